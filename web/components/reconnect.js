import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, post, put, remotePath } from '../api.js';
import { usePoll } from './poll.js';
import { isOAuth, providerName, secretFields, providerById } from './providers.js';
import { Field, configOf, errorField, fieldId } from './fields.js';
import { ErrorNote } from './errorNote.js';
import { ConnectLink } from './connectLink.js';

/**
 * Gives a remote whose credentials were refused new ones: a login page again for OAuth remotes,
 * else its secrets (for Jottacloud a new Personal Login Token). Runs waiting on it go on.
 */
export function Reconnect({ remote, onDone }) {
  const [values, setValues] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [link, setLink] = useState(null);
  const [ids] = useState(() => ({}));
  const name = providerName(remote);

  // Once the link is out, the consent page's tab does the rest: done when the remote answers again.
  usePoll(async () => {
    if (!link) return;
    const about = await get(remotePath(remote.name, '/about'));
    if (about.connection === 'ok') onDone?.();
  }, [link?.authorizationUrl], link ? 2000 : 0);

  if (isOAuth(remote)) {
    const start = async () => {
      setBusy(true);
      setError(null);
      try {
        setLink(await post(remotePath(remote.name, '/reconnect'), {}));
      } catch (err) {
        setError(err);
      } finally {
        setBusy(false);
      }
    };
    return html`<div class="reconnect">
      ${link ? html`<${ConnectLink} url=${link.authorizationUrl} provider=${name} expiresAt=${link.expiresAt} />`
        : html`<button type="button" onClick=${start} disabled=${busy}>Reconnect ${name}</button>`}
      <${ErrorNote} error=${error} />
    </div>`;
  }

  const fields = secretFields(remote);
  const steps = remote.type === 'jottacloud' ? providerById('jottacloud').steps : null;
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await put(remotePath(remote.name, '/credentials'), configOf(fields, values));
      setValues({});
      onDone?.();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const bad = errorField(error);
  return html`<form class="reconnect" onSubmit=${submit} aria-label=${`Reconnect ${remote.name}`}>
    ${steps && html`<ol class="steps">${steps.map((s) => html`<li>${s}</li>`)}</ol>`}
    ${fields.map((f) => {
      ids[f.key] ??= fieldId(`reconnect-${f.key}`);
      return html`<${Field} field=${{ ...f, label: `New ${f.label}`, required: f.required || fields.length === 1 }} id=${ids[f.key]} value=${values[f.key]}
        invalid=${bad === f.key} onInput=${(v) => setValues({ ...values, [f.key]: v })} />`;
    })}
    <button type="submit" disabled=${busy}>${busy ? 'Checking…' : `Reconnect ${name}`}</button>
    <${ErrorNote} error=${error} />
  </form>`;
}
