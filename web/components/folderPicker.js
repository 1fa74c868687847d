import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, remotePath } from '../api.js';
import { bytes } from './format.js';
import { ErrorNote } from './errorNote.js';
import { fieldId } from './fields.js';

const shown = 200;

/** `a/b/c` → [['', root], ['a', 'a'], ['a/b', 'b'], ['a/b/c', 'c']]. */
function crumbs(path) {
  const parts = path.split('/').filter(Boolean);
  return [['', 'top'], ...parts.map((p, i) => [parts.slice(0, i + 1).join('/'), p])];
}

/**
 * Walks a remote's folders; the folder it shows is the one picked (`onChange({remote, path})`).
 * @param {{ label: string, remotes: { name: string }[], value: { remote: string, path: string }, onChange: (v: { remote: string, path: string }) => void, showFiles?: boolean }} props
 */
export function FolderPicker({ label, remotes, value, onChange, showFiles = false }) {
  const [listing, setListing] = useState(null);
  const [error, setError] = useState(null);
  const [ids] = useState(() => ({ remote: fieldId('picker-remote'), heading: fieldId('picker') }));

  useEffect(() => {
    if (!value.remote) return;
    let stale = false;
    setListing(null);
    setError(null);
    get(`${remotePath(value.remote, '/ls')}?path=${encodeURIComponent(value.path)}&limit=${shown}`).then(
      (page) => { if (!stale) setListing(page); },
      (err) => { if (!stale) setError(err); },
    );
    return () => { stale = true; };
  }, [value.remote, value.path]);

  const folders = listing ? listing.data.filter((e) => e.isDir) : [];
  const files = listing ? listing.data.filter((e) => !e.isDir) : [];
  return html`<fieldset class="picker">
    <legend id=${ids.heading}>${label}</legend>
    <div class="field">
      <label for=${ids.remote}>Cloud</label>
      <select id=${ids.remote} value=${value.remote} onChange=${(e) => onChange({ remote: e.currentTarget.value, path: '' })}>
        <option value="">Choose a cloud…</option>
        ${remotes.map((r) => html`<option value=${r.name}>${r.name}</option>`)}
      </select>
    </div>
    ${value.remote && html`
      <nav class="crumbs" aria-label=${`${label}: folder path`}>
        <ol>
          ${crumbs(value.path).map(([p, name], i, all) => html`<li>${i === all.length - 1
            ? html`<span aria-current="location">${name}</span>`
            : html`<button type="button" class="link" onClick=${() => onChange({ remote: value.remote, path: p })}>${name}</button>`}</li>`)}
        </ol>
      </nav>
      <p class="picked">Picked: <code>${value.remote}:${value.path}</code></p>
      <${ErrorNote} error=${error} />
      ${listing === null && !error ? html`<p class="loading">Listing…</p>` : listing && html`
        <ul class="folders" aria-label=${`Folders in ${value.remote}:${value.path}`}>
          ${folders.length === 0 && html`<li class="empty">No folders here.</li>`}
          ${folders.map((f) => html`<li><button type="button" class="folder" onClick=${() => onChange({ remote: value.remote, path: f.path })}>📁 ${f.name}</button></li>`)}
        </ul>
        ${showFiles && files.length > 0 && html`<ul class="files" aria-label="Files">${files.map((f) => html`<li><span>${f.name}</span> <span class="muted">${bytes(f.size)}</span></li>`)}</ul>`}
        ${!showFiles && files.length > 0 && html`<p class="muted">${files.length}${listing.next ? '+' : ''} file${files.length === 1 ? '' : 's'} in this folder.</p>`}
        ${listing.next && html`<p class="muted">Showing the first ${shown} entries.</p>`}`}`}
  </fieldset>`;
}
