import { html } from '../html.js';
import { get } from '../api.js';
import { usePoll } from '../components/poll.js';
import { RunProgress } from '../components/progress.js';
import { StateBadge } from '../components/waiting.js';
import { dateTime, duration, speed } from '../components/format.js';
import { ErrorNote } from '../components/errorNote.js';

/** The newest runs with their jobs' locations (one page each: the dashboard shows recent work). */
async function loadRuns() {
  const [runs, jobs] = await Promise.all([get('/v1/runs?limit=50'), get('/v1/jobs?limit=1000')]);
  const byId = new Map(jobs.data.map((j) => [j.id, j]));
  return runs.data.map((run) => ({ run, job: byId.get(run.jobId) }));
}

export function Runs() {
  const { data, error } = usePoll(loadRuns, []);
  return html`<h1 tabindex="-1">Runs</h1>
    <p><a class="button" href="#/transfer">New transfer</a></p>
    <${ErrorNote} error=${error} />
    ${data === undefined && !error && html`<p class="loading">Loading…</p>`}
    ${data && data.length === 0 && html`<p>No runs yet.</p>`}
    ${data && data.length > 0 && html`<ul class="cards" aria-label="Runs">
      ${data.map(({ run, job }) => html`<li class="card run" key=${run.id}>
        <div class="cloud-head">
          <h2 class="h3"><a href=${`#/runs/${run.id}`}>${job ? `${job.mode} ${job.source} → ${job.destination}` : `Run ${run.id.slice(0, 8)}`}</a></h2>
          <${StateBadge} state=${run.state} />
        </div>
        <${RunProgress} run=${run} label=${`Progress of run ${run.id.slice(0, 8)}`} />
        <p class="muted">Started ${dateTime(run.startedAt)} · ${speed(run.speed?.current)} · ETA ${duration(run.etaSeconds)}</p>
      </li>`)}
    </ul>`}`;
}
