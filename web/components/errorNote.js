import { html } from '../html.js';

/** An API refusal or a failure, in the server's own words, announced to screen readers. */
export function ErrorNote({ error }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return html`<p class="error" role="alert">${message}</p>`;
}
