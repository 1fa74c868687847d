import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, post, remotePath } from '../api.js';
import { usePoll } from '../components/poll.js';
import { ProgressBar, RunProgress } from '../components/progress.js';
import { StateBadge, terminalStates, waitingWords } from '../components/waiting.js';
import { bytes, dateTime, duration, speed } from '../components/format.js';
import { ErrorNote } from '../components/errorNote.js';
import { Reconnect } from '../components/reconnect.js';

const groups = [['copy', 'To copy'], ['overwrite', 'To overwrite'], ['move', 'To move'], ['delete', 'To delete'], ['skip', 'Already there']];

async function loadRun(id) {
  const run = await get(`/v1/runs/${encodeURIComponent(id)}`);
  const [job, events, failed, remote] = await Promise.all([
    get(`/v1/jobs/${run.jobId}`),
    get(`/v1/runs/${run.id}/events?limit=50`),
    run.files.failed > 0 ? get(`/v1/runs/${run.id}/files?state=failed&limit=100`) : Promise.resolve({ data: [] }),
    run.waiting?.remote ? get(remotePath(run.waiting.remote)) : Promise.resolve(null),
  ]);
  return { run, job, events: events.data, failed: failed.data, remote };
}

function Plan({ run, onApproved }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const approve = async () => {
    setBusy(true);
    setError(null);
    try {
      await post(`/v1/runs/${run.id}/approve`, { digest: run.plan.digest });
      onApproved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const present = groups.filter(([g]) => run.plan.groups?.[g]?.files > 0);
  return html`<section class="card" aria-labelledby="plan-heading">
    <h2 id="plan-heading">${run.state === 'awaiting_approval' ? 'Preview' : 'Plan'}</h2>
    ${present.length === 0 && html`<p>Nothing to do: both sides already match.</p>`}
    <dl class="counts">
      ${present.map(([g, label]) => html`<div><dt>${label}</dt><dd>${run.plan.groups[g].files} files, ${bytes(run.plan.groups[g].bytes)}</dd></div>`)}
    </dl>
    ${present.filter(([g]) => g !== 'skip').map(([g, label]) => html`<details open=${g !== 'skip'}>
      <summary>${label}: first ${run.plan.groups[g].first.length}</summary>
      <ul class="paths">${run.plan.groups[g].first.map((p) => html`<li><code>${p}</code></li>`)}</ul>
    </details>`)}
    ${run.state === 'awaiting_approval' && html`<div class="actions">
      <button type="button" onClick=${approve} disabled=${busy}>${busy ? 'Approving…' : 'Approve and run'}</button>
    </div>`}
    <${ErrorNote} error=${error} />
  </section>`;
}

function Actions({ run, onDone }) {
  const [error, setError] = useState(null);
  // Cancelling cannot be undone, so it takes a second click that says what it does.
  const [confirming, setConfirming] = useState(false);
  const act = (action) => async () => {
    setError(null);
    setConfirming(false);
    try {
      const answer = await post(`/v1/runs/${run.id}/${action}`);
      if (action === 'retry' && answer?.runId) location.hash = `#/runs/${answer.runId}`;
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  const ended = terminalStates.includes(run.state);
  return html`<div class="actions">
    ${!ended && !['paused', 'needs_attention', 'awaiting_approval'].includes(run.state) && html`<button type="button" class="secondary" onClick=${act('pause')}>Pause</button>`}
    ${['paused', 'needs_attention'].includes(run.state) && html`<button type="button" onClick=${act('resume')}>Resume</button>`}
    ${!ended && (confirming
      ? html`<p class="help">Files already copied stay where they are; nothing more is copied or deleted.</p>
             <button type="button" class="danger" onClick=${act('cancel')}>Cancel this run now</button>
             <button type="button" class="secondary" onClick=${() => setConfirming(false)}>Keep it running</button>`
      : html`<button type="button" class="danger" onClick=${() => setConfirming(true)}>Cancel</button>`)}
    ${ended && run.files.failed > 0 && html`<button type="button" onClick=${act('retry')}>Retry failed files</button>`}
    <${ErrorNote} error=${error} />
  </div>`;
}

export function Run({ id, session }) {
  const [ended, setEnded] = useState(false);
  const { data, error, reload } = usePoll(async () => {
    const d = await loadRun(id);
    setEnded(terminalStates.includes(d.run.state));
    return d;
  }, [id], ended ? 0 : 2000);

  if (!data) return html`<h1 tabindex="-1">Run</h1>${error ? html`<${ErrorNote} error=${error} />` : html`<p class="loading">Loading…</p>`}`;
  const { run, job, events, failed, remote } = data;
  const words = waitingWords(run, remote);
  const workflowId = run.workflowId ?? `run-${run.id}`;
  const temporal = session?.temporalUiUrl ? `${session.temporalUiUrl.replace(/\/$/, '')}/namespaces/default/workflows/${encodeURIComponent(workflowId)}` : null;
  return html`<h1 tabindex="-1">${job.mode} ${job.source} → ${job.destination}</h1>
    <div class="cloud-head"><${StateBadge} state=${run.state} /><span class="muted">Started ${dateTime(run.startedAt)}${run.finishedAt ? ` · finished ${dateTime(run.finishedAt)}` : ''}</span></div>
    <${ErrorNote} error=${error} />
    ${words && html`<div class=${`notice ${run.state === 'needs_reconnect' || run.state === 'needs_attention' ? 'bad' : ''}`} role="status">
      <p class="words">${words}</p>
      ${run.waiting?.reason && html`<details><summary>Details</summary><p class="help">${run.waiting.reason}</p></details>`}
      ${run.state === 'needs_reconnect' && remote && html`<${Reconnect} remote=${remote} onDone=${reload} />`}
    </div>`}
    ${run.error && html`<p class="error">${typeof run.error === 'string' ? run.error : JSON.stringify(run.error)}</p>`}
    <section aria-labelledby="progress-heading">
      <h2 id="progress-heading">Progress</h2>
      <${RunProgress} run=${run} label="Run progress" />
      <p class="muted">${speed(run.speed?.current)} now · ${speed(run.speed?.average)} on average · ETA ${duration(run.etaSeconds)}</p>
      <dl class="counts">
        ${['skipped', 'deduplicated', 'moved', 'deleted', 'failed'].filter((k) => run.files[k] > 0).map((k) => html`<div><dt>${k}</dt><dd>${run.files[k]}</dd></div>`)}
      </dl>
      ${run.phases && html`<div class="phases">
        ${['copy', 'verify', 'delete'].filter((p) => run.phases[p]?.files?.total > 0).map((p) => {
          const ph = run.phases[p].files;
          return html`<div><h3>${p}</h3><${ProgressBar} label=${`${p} phase`} percent=${Math.floor((ph.done / ph.total) * 100)} detail=${`${ph.done} of ${ph.total} files`} /></div>`;
        })}
      </div>`}
      <${Actions} run=${run} onDone=${reload} />
    </section>
    ${run.plan && html`<${Plan} run=${run} onApproved=${reload} />`}
    ${run.inFlight?.length > 0 && html`<section aria-labelledby="inflight-heading">
      <h2 id="inflight-heading">Files in flight</h2>
      <ul class="paths">${run.inFlight.map((f) => html`<li><code>${f.path}</code> <span class="muted">${bytes(f.bytesDone)} of ${bytes(f.size)}</span></li>`)}</ul>
    </section>`}
    ${failed.length > 0 && html`<section aria-labelledby="failed-heading">
      <h2 id="failed-heading">Failed files</h2>
      <ul class="paths">${failed.map((f) => html`<li><code>${f.path}</code><br /><span class="error-text">${f.error}</span></li>`)}</ul>
    </section>`}
    <section aria-labelledby="events-heading">
      <h2 id="events-heading">Events</h2>
      <ol class="events">${events.map((e) => html`<li><time datetime=${e.at}>${dateTime(e.at)}</time> <span class="kind">${e.kind}</span> ${e.message}</li>`)}</ol>
    </section>
    <p class="links">
      <a href=${`/v1/runs/${run.id}/report?format=csv`} download=${`knarr-run-${run.id}.csv`}>Report (CSV)</a>
      ${temporal && html` · <a href=${temporal} target="_blank" rel="noopener noreferrer">Open in Temporal Web</a>`}
    </p>`;
}
