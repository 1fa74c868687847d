import { html } from '../html.js';
import { getAll } from '../api.js';
import { usePoll } from '../components/poll.js';
import { FolderPicker } from '../components/folderPicker.js';
import { ErrorNote } from '../components/errorNote.js';

/** A remote's folders and files; the URL keeps the place, so it survives a reload. */
export function Browse({ remote = '', path = '' }) {
  const { data: remotes, error } = usePoll(() => getAll('/v1/remotes'), [], 0);
  const go = ({ remote: r, path: p }) => {
    location.hash = `#/browse/${encodeURIComponent(r)}${p ? `?path=${encodeURIComponent(p)}` : ''}`;
  };
  const transfer = `#/transfer?source=${encodeURIComponent(`${remote}:${path}`)}`;
  return html`<h1 tabindex="-1">Browse</h1>
    <${ErrorNote} error=${error} />
    ${remotes && html`<${FolderPicker} label="Folder" remotes=${remotes} value=${{ remote, path }} onChange=${go} showFiles=${true} />`}
    ${remote && html`<p><a class="button" href=${transfer}>Copy this folder somewhere…</a></p>`}`;
}
