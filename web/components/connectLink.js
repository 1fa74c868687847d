import { html } from '../html.js';

/**
 * The provider's consent page, opened by the person (a tab opened by script after an API call is
 * blocked by most browsers): the link, and what happens after.
 */
export function ConnectLink({ url, provider, expiresAt }) {
  return html`<div class="notice" role="status">
    <p><a class="button" href=${url} target="_blank" rel="noopener noreferrer">Continue at ${provider}</a></p>
    <p class="help">A new tab opens at ${provider}. Approve knarr's access there; this page notices when it is done${expiresAt ? html` (the link works until ${new Date(expiresAt).toLocaleTimeString()})` : ''}.</p>
  </div>`;
}
