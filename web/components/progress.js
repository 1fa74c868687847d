import { html } from '../html.js';
import { bytes } from './format.js';

const done = ['completed', 'completed_with_errors'];

/** A run's share done, by bytes where it knows them, else by files; 100 once it completed. */
export function percentOf(run) {
  if (done.includes(run.state)) return 100;
  const b = run.bytes ?? {};
  const f = run.files ?? {};
  if (b.total > 0) return Math.min(100, Math.floor((b.done / b.total) * 100));
  if (f.total > 0) return Math.min(100, Math.floor((f.done / f.total) * 100));
  return 0;
}

/** A labelled bar that screen readers read as a percentage. */
export function ProgressBar({ label, percent, detail }) {
  return html`<div class="progress">
    <progress max="100" value=${percent} aria-label=${label}>${percent}%</progress>
    <span class="pct">${percent}%</span>
    ${detail && html`<span class="muted">${detail}</span>`}
  </div>`;
}

export function RunProgress({ run, label = 'Progress' }) {
  const b = run.bytes ?? {};
  const f = run.files ?? {};
  const detail = `${f.done ?? 0} of ${f.total ?? 0} files${b.total ? `, ${bytes(b.done)} of ${bytes(b.total)}` : ''}`;
  return html`<${ProgressBar} label=${label} percent=${percentOf(run)} detail=${detail} />`;
}
