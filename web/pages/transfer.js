import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { getAll, location as loc, post } from '../api.js';
import { usePoll } from '../components/poll.js';
import { FolderPicker } from '../components/folderPicker.js';
import { ErrorNote } from '../components/errorNote.js';
import { browserTimeZone } from '../components/format.js';

const modes = [
  ['copy', 'Copy', 'Copies new and changed files; deletes nothing.'],
  ['sync', 'Sync', 'Makes the destination a mirror of the source: files only the destination has are deleted (after you approve).'],
  ['move', 'Move', 'Copies, checks each file, then deletes it from the source.'],
  ['check', 'Check', 'Compares both sides and writes nothing.'],
];
const presets = [['photos', 'Photos'], ['videos', 'Videos'], ['documents', 'Documents'], ['audio', 'Audio']];

const lines = (text) => text.split('\n').map((l) => l.trim()).filter(Boolean);
const sizeOrBytes = (v) => (/^\d+$/.test(v.trim()) ? Number(v.trim()) : v.trim());

/** `remote:path` → { remote, path }. */
function parseLocation(s) {
  const i = s.indexOf(':');
  return i < 0 ? { remote: '', path: '' } : { remote: s.slice(0, i), path: s.slice(i + 1) };
}

/** The filters and options a person filled in, as the API's job body reads them (empty ones left out). */
function jobBody(f) {
  const filters = {};
  if (f.presets.length) filters.presets = f.presets;
  if (lines(f.include).length) filters.include = lines(f.include);
  if (lines(f.exclude).length) filters.exclude = lines(f.exclude);
  for (const k of ['minSize', 'maxSize']) if (f[k].trim()) filters[k] = sizeOrBytes(f[k]);
  for (const k of ['minAge', 'maxAge']) if (f[k].trim()) filters[k] = f[k].trim();
  const options = {};
  if (f.transfers !== '') options.transfers = Number(f.transfers);
  if (f.bwlimit.trim()) options.bwlimit = sizeOrBytes(f.bwlimit);
  return {
    source: loc(f.source.remote, f.source.path),
    destination: loc(f.destination.remote, [f.destination.path, f.newFolder.trim()].filter(Boolean).join('/')),
    mode: f.mode,
    filters,
    options,
  };
}

export function Transfer({ query }) {
  const { data: remotes, error: loadError } = usePoll(() => getAll('/v1/remotes'), [], 0);
  const [f, setF] = useState(() => ({
    source: parseLocation(query?.get('source') ?? ''),
    destination: { remote: '', path: '' },
    mode: 'copy', presets: [], include: '', exclude: '', minSize: '', maxSize: '', minAge: '', maxAge: '',
    transfers: '', bwlimit: '', newFolder: '',
    when: 'daily', time: '02:00', cron: '0 2 * * *', name: '',
  }));
  const [error, setError] = useState(null);
  const [scheduleError, setScheduleError] = useState(null);
  const [busy, setBusy] = useState('');
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const text = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const ready = f.source.remote && f.destination.remote;

  const run = async (dryRun) => {
    setBusy(dryRun ? 'preview' : 'start');
    setError(null);
    try {
      const body = jobBody(f);
      if (dryRun) body.options.dryRun = true;
      const { runId } = await post('/v1/jobs', body);
      location.hash = `#/runs/${runId}`;
    } catch (err) {
      setError(err);
    } finally {
      setBusy('');
    }
  };
  const schedule = async (e) => {
    e.preventDefault();
    setBusy('schedule');
    setScheduleError(null);
    try {
      const [hh, mm] = f.time.split(':').map(Number);
      const cron = f.when === 'daily' ? `${mm} ${hh} * * *` : f.cron.trim();
      await post('/v1/schedules', { ...jobBody(f), name: f.name.trim(), cron, timezone: browserTimeZone() });
      location.hash = '#/schedules';
    } catch (err) {
      setScheduleError(err);
    } finally {
      setBusy('');
    }
  };

  return html`<h1 tabindex="-1">New transfer</h1>
    <${ErrorNote} error=${loadError} />
    ${remotes && remotes.length === 0 && html`<p>Add a cloud first, on <a href="#/clouds">Clouds</a>.</p>`}
    ${remotes && html`<form class="transfer" onSubmit=${(e) => { e.preventDefault(); run(true); }}>
      <div class="two">
        <${FolderPicker} label="From (source)" remotes=${remotes} value=${f.source} onChange=${set('source')} />
        <div>
          <${FolderPicker} label="To (destination)" remotes=${remotes} value=${f.destination} onChange=${set('destination')} />
          <div class="field"><label for="t-new-folder">Into a new folder there (optional)</label>
            <input id="t-new-folder" value=${f.newFolder} onInput=${text('newFolder')} placeholder="backup/2026" aria-describedby="t-new-folder-help" />
            <p class="help" id="t-new-folder-help">Made by the transfer, inside the folder picked above.</p></div>
        </div>
      </div>
      <fieldset>
        <legend>What to do</legend>
        ${modes.map(([id, label, help]) => html`<div class="field check">
          <input type="radio" id=${`mode-${id}`} name="mode" value=${id} checked=${f.mode === id} onChange=${() => set('mode')(id)} aria-describedby=${`mode-${id}-help`} />
          <label for=${`mode-${id}`}>${label}</label>
          <p class="help" id=${`mode-${id}-help`}>${help}</p>
        </div>`)}
      </fieldset>
      <details>
        <summary>Filters</summary>
        <fieldset>
          <legend>Only these kinds of files</legend>
          ${presets.map(([id, label]) => html`<div class="field check">
            <input type="checkbox" id=${`preset-${id}`} checked=${f.presets.includes(id)}
              onChange=${(e) => set('presets')(e.currentTarget.checked ? [...f.presets, id] : f.presets.filter((p) => p !== id))} />
            <label for=${`preset-${id}`}>${label}</label>
          </div>`)}
        </fieldset>
        <div class="field"><label for="f-include">Include (one pattern a line)</label><textarea id="f-include" rows="2" value=${f.include} onInput=${text('include')} placeholder="*.jpg" aria-describedby="f-pattern-help"></textarea></div>
        <div class="field"><label for="f-exclude">Exclude (one pattern a line)</label><textarea id="f-exclude" rows="2" value=${f.exclude} onInput=${text('exclude')} placeholder=".DS_Store" aria-describedby="f-pattern-help"></textarea>
          <p class="help" id="f-pattern-help">rclone's patterns: * within a name, ** across folders, a leading / from the top.</p></div>
        <div class="row">
          <div class="field"><label for="f-min-size">Smallest size</label><input id="f-min-size" value=${f.minSize} onInput=${text('minSize')} placeholder="10M" /></div>
          <div class="field"><label for="f-max-size">Largest size</label><input id="f-max-size" value=${f.maxSize} onInput=${text('maxSize')} placeholder="2G" /></div>
          <div class="field"><label for="f-min-age">Older than</label><input id="f-min-age" value=${f.minAge} onInput=${text('minAge')} placeholder="30d" /></div>
          <div class="field"><label for="f-max-age">Newer than</label><input id="f-max-age" value=${f.maxAge} onInput=${text('maxAge')} placeholder="1y" /></div>
        </div>
      </details>
      <details>
        <summary>Options</summary>
        <div class="row">
          <div class="field"><label for="o-transfers">Files at once</label><input id="o-transfers" type="number" min="1" max="64" value=${f.transfers} onInput=${text('transfers')} placeholder="4" /></div>
          <div class="field"><label for="o-bwlimit">Bandwidth limit (per second)</label><input id="o-bwlimit" value=${f.bwlimit} onInput=${text('bwlimit')} placeholder="10M" aria-describedby="o-bwlimit-help" />
            <p class="help" id="o-bwlimit-help">Bytes, or a size such as 512K or 10M. Empty: no limit.</p></div>
        </div>
      </details>
      <div class="actions">
        <button type="submit" disabled=${!ready || busy !== ''}>${busy === 'preview' ? 'Planning…' : 'Preview'}</button>
        <button type="button" class="secondary" disabled=${!ready || busy !== ''} onClick=${() => run(false)}>Start now</button>
      </div>
      <${ErrorNote} error=${error} />
    </form>
    <form class="card" onSubmit=${schedule} aria-labelledby="schedule-heading">
      <h2 id="schedule-heading">Or run it on a schedule</h2>
      <div class="field"><label for="s-name">Schedule name<span class="req" aria-hidden="true"> *</span></label><input id="s-name" required value=${f.name} onInput=${text('name')} placeholder="nightly-photos" /></div>
      <fieldset>
        <legend>When</legend>
        <div class="field check"><input type="radio" id="s-daily" name="when" checked=${f.when === 'daily'} onChange=${() => set('when')('daily')} /><label for="s-daily">Every day at</label>
          <label class="visually-hidden" for="s-time">Time of day</label>
          <input id="s-time" type="time" value=${f.time} disabled=${f.when !== 'daily'} onInput=${text('time')} aria-describedby="s-tz" />
        </div>
        <div class="field check"><input type="radio" id="s-cron" name="when" checked=${f.when === 'cron'} onChange=${() => set('when')('cron')} /><label for="s-cron">Cron</label>
          <label class="visually-hidden" for="s-cron-expr">Cron expression</label>
          <input id="s-cron-expr" value=${f.cron} disabled=${f.when !== 'cron'} onInput=${text('cron')} aria-describedby="s-tz" />
        </div>
        <p class="help" id="s-tz">In your time zone, ${browserTimeZone()}.</p>
      </fieldset>
      <button type="submit" disabled=${!ready || busy !== ''}>${busy === 'schedule' ? 'Saving…' : 'Save schedule'}</button>
      ${!ready && html`<p class="help">Pick the source and the destination above first.</p>`}
      <${ErrorNote} error=${scheduleError} />
    </form>`}`;
}
