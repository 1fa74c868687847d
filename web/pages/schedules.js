import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { del, getAll, post } from '../api.js';
import { usePoll } from '../components/poll.js';
import { dateTime } from '../components/format.js';
import { ErrorNote } from '../components/errorNote.js';
import { StateBadge } from '../components/waiting.js';

function when(s) {
  const daily = s.cron && /^(\d+) (\d+) \* \* \*$/.exec(s.cron);
  if (daily) return `every day at ${daily[2].padStart(2, '0')}:${daily[1].padStart(2, '0')} (${s.timezone})`;
  return s.cron ? `cron ${s.cron} (${s.timezone})` : `every ${s.every}`;
}

function ScheduleRow({ s, onChanged }) {
  const [error, setError] = useState(null);
  const [confirming, setConfirming] = useState(false);
  const act = (fn) => async () => {
    setError(null);
    try {
      await fn();
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const base = `/v1/schedules/${s.id}`;
  return html`<li class="card">
    <div class="cloud-head">
      <h2 class="h3">${s.name}</h2>
      <span class=${`state ${s.state === 'active' ? 'ok' : 'wait'}`}>${s.state}</span>
    </div>
    <p>${s.mode} <code>${s.source}</code> → <code>${s.destination}</code>, ${when(s)}</p>
    <p class="next">Next run: ${s.nextRuns.length ? html`<time datetime=${s.nextRuns[0]}>${dateTime(s.nextRuns[0])}</time>` : 'none while paused'}</p>
    ${s.recentRuns?.length > 0 && html`<details><summary>Recent runs</summary><ul>
      ${s.recentRuns.map((r) => html`<li><a href=${`#/runs/${r.id}`}>${dateTime(r.startedAt)}</a> <${StateBadge} state=${r.state} /></li>`)}
    </ul></details>`}
    <div class="actions">
      ${s.state === 'paused'
        ? html`<button type="button" onClick=${act(() => post(`${base}/unpause`))}>Resume schedule</button>`
        : html`<button type="button" class="secondary" onClick=${act(() => post(`${base}/pause`))}>Pause</button>`}
      <button type="button" class="secondary" onClick=${act(() => post(`${base}/trigger`))}>Run now</button>
      ${confirming
        ? html`<button type="button" class="danger" onClick=${act(() => del(base))}>Delete ${s.name} now</button>
               <button type="button" class="secondary" onClick=${() => setConfirming(false)}>Keep it</button>`
        : html`<button type="button" class="secondary" onClick=${() => setConfirming(true)}>Delete</button>`}
    </div>
    <${ErrorNote} error=${error} />
  </li>`;
}

export function Schedules() {
  const { data, error, reload } = usePoll(() => getAll('/v1/schedules'), [], 10_000);
  return html`<h1 tabindex="-1">Schedules</h1>
    <p><a class="button" href="#/transfer">New schedule</a></p>
    <${ErrorNote} error=${error} />
    ${data === undefined && !error && html`<p class="loading">Loading…</p>`}
    ${data && data.length === 0 && html`<p>No schedules yet: make one on New transfer.</p>`}
    ${data && data.length > 0 && html`<ul class="cards" aria-label="Schedules">${data.map((s) => html`<${ScheduleRow} key=${s.id} s=${s} onChanged=${reload} />`)}</ul>`}`;
}
