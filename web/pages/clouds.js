import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { del, get, getAll, post, remotePath } from '../api.js';
import { usePoll } from '../components/poll.js';
import { bytes } from '../components/format.js';
import { isOAuth, providerName, providers, providerById, secretFields } from '../components/providers.js';
import { Field, configOf, errorField, fieldId } from '../components/fields.js';
import { ErrorNote } from '../components/errorNote.js';
import { ConnectLink } from '../components/connectLink.js';
import { Reconnect } from '../components/reconnect.js';

/**
 * Each remote with its state and usage, asked one by one (a remote that cannot be reached does not
 * hold up the rest). `about.connection` says ok, needs_reconnect or unreachable, with the reason.
 */
async function loadClouds() {
  const remotes = await getAll('/v1/remotes');
  return Promise.all(remotes.map(async (remote) => {
    try {
      const about = await get(remotePath(remote.name, '/about'));
      return { remote, about: about.connection === 'ok' ? about : null, problem: about.connection === 'ok' ? null : about };
    } catch (err) {
      return { remote, about: null, problem: { connection: 'unreachable', message: err.message } };
    }
  }));
}

function Usage({ about }) {
  if (!about) return null;
  // S3 has no quota to tell, FTP no usage at all: say so rather than "– used".
  if ((about.usedBytes === null || about.usedBytes === undefined) && !about.totalBytes) {
    return html`<span>${about.unlimited ? 'No space limit' : 'This server does not report its space.'}</span>`;
  }
  if (about.unlimited || !about.totalBytes) return html`<span>${bytes(about.usedBytes)} used</span>`;
  const pct = Math.min(100, Math.round((about.usedBytes / about.totalBytes) * 100));
  return html`<span class="usage">
    <progress max="100" value=${pct} aria-label="Space used">${pct}%</progress>
    <span>${bytes(about.usedBytes)} of ${bytes(about.totalBytes)} used (${bytes(about.freeBytes)} free)</span>
  </span>`;
}

function CloudRow({ item, onChanged }) {
  const { remote, about, problem } = item;
  const [reconnecting, setReconnecting] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState(null);
  const refused = problem?.connection === 'needs_reconnect';
  const remove = async () => {
    setError(null);
    try {
      await del(remotePath(remote.name));
      onChanged();
    } catch (err) {
      setError(err);
      setConfirming(false);
    }
  };
  return html`<li class="card cloud">
    <div class="cloud-head">
      <h3>${remote.name}</h3>
      <span class="type">${providerName(remote)}</span>
      <span class=${`state ${problem ? 'bad' : 'ok'}`}>${problem ? (refused ? 'needs reconnect' : 'unreachable') : 'ok'}</span>
    </div>
    ${about && html`<p><${Usage} about=${about} /></p>`}
    ${problem && html`<p class="help">${problem.message}</p>`}
    <div class="actions">
      <a class="button secondary" href=${`#/browse/${encodeURIComponent(remote.name)}`}>Browse</a>
      ${(isOAuth(remote) || secretFields(remote).length > 0) && html`<button type="button" class="secondary" aria-expanded=${reconnecting} onClick=${() => setReconnecting(!reconnecting)}>Reconnect</button>`}
      ${confirming
        ? html`<button type="button" class="danger" onClick=${remove}>Remove ${remote.name} now</button>
               <button type="button" class="secondary" onClick=${() => setConfirming(false)}>Keep it</button>`
        : html`<button type="button" class="secondary" onClick=${() => setConfirming(true)}>Remove</button>`}
    </div>
    ${reconnecting && html`<${Reconnect} remote=${remote} onDone=${() => { setReconnecting(false); onChanged(); }} />`}
    <${ErrorNote} error=${error} />
  </li>`;
}

/** Adds a remote with the provider's own words: a token, a login page, or the server's fields. */
function AddCloud({ onAdded, existing }) {
  const [providerId, setProviderId] = useState('');
  const [name, setName] = useState('');
  const [values, setValues] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [waiting, setWaiting] = useState(null);
  const [ids] = useState(() => ({ provider: fieldId('add-provider'), name: fieldId('add-name') }));
  const provider = providerById(providerId);

  // After the consent page, the callback makes the remote: the list shows it when it exists.
  usePoll(async () => {
    if (!waiting) return;
    const remotes = await getAll('/v1/remotes');
    if (remotes.some((r) => r.name === waiting.name)) done();
  }, [waiting?.name], waiting ? 2000 : 0);

  // Added (at once, or once the consent page came back): the form starts over for the next one.
  const done = () => {
    setName('');
    setValues({});
    setProviderId('');
    setWaiting(null);
    onAdded();
  };
  const choose = (id) => {
    setProviderId(id);
    const p = providerById(id);
    setValues(Object.fromEntries((p?.fields ?? []).filter((f) => f.kind === 'select' && f.required).map((f) => [f.key, f.options[0]])));
    setError(null);
    setWaiting(null);
  };
  const submit = async (e) => {
    e.preventDefault();
    if (!provider) return;
    setBusy(true);
    setError(null);
    try {
      const answer = await post('/v1/remotes', { name: name.trim(), type: provider.type, config: { ...provider.fixed, ...configOf(provider.fields, values) } });
      if (answer && answer.authorizationUrl) {
        setWaiting(answer);
      } else {
        done();
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const bad = errorField(error);
  const basic = provider ? provider.fields.filter((f) => !f.advanced) : [];
  const advanced = provider ? provider.fields.filter((f) => f.advanced) : [];
  const field = (f) => {
    // Apart from the form's own ids: S3's `provider` field must not take the Provider picker's id.
    const key = `field:${f.key}`;
    ids[key] ??= fieldId(`add-${f.key}`);
    return html`<${Field} field=${f} id=${ids[key]} value=${values[f.key]} invalid=${bad === f.key} onInput=${(v) => setValues({ ...values, [f.key]: v })} />`;
  };
  return html`<section class="card" aria-labelledby="add-cloud">
    <h2 id="add-cloud">Add a cloud</h2>
    <form onSubmit=${submit}>
      <div class="field">
        <label for=${ids.provider}>Provider</label>
        <select id=${ids.provider} value=${providerId} onChange=${(e) => choose(e.currentTarget.value)}>
          <option value="">Choose a provider…</option>
          ${providers.map((p) => html`<option value=${p.id}>${p.label}</option>`)}
        </select>
      </div>
      ${provider && html`
        <p>${provider.intro}</p>
        <div class="field">
          <label for=${ids.name}>Name in knarr<span class="req" aria-hidden="true"> *</span></label>
          <input id=${ids.name} required value=${name} aria-invalid=${bad === 'name' ? 'true' : undefined} aria-describedby=${`${ids.name}-help`}
            onInput=${(e) => setName(e.currentTarget.value)} placeholder=${provider.id === 'local' ? 'photos' : provider.id} />
          <p class="help" id=${`${ids.name}-help`}>Letters, digits, - and _; used in locations such as ${name || provider.id}:Photos.${existing.length ? '' : ' You have no clouds yet.'}</p>
        </div>
        ${provider.steps
          ? html`<div class="with-steps">
              <div>${basic.map(field)}</div>
              <aside class="steps-box" aria-label="Where to find the token"><h3>Where to find it</h3><ol class="steps">${provider.steps.map((s) => html`<li>${s}</li>`)}</ol></aside>
            </div>`
          : basic.map(field)}
        ${advanced.length > 0 && html`<details><summary>Advanced</summary>${advanced.map(field)}</details>`}
        ${waiting
          ? html`<${ConnectLink} url=${waiting.authorizationUrl} provider=${provider.label} expiresAt=${waiting.expiresAt} />
              <p class="actions"><button type="button" class="secondary" onClick=${() => setWaiting(null)}>Start again</button>
                <span class="help">The link works once: after a refusal at ${provider.label}, start again here.</span></p>`
          : html`<button type="submit" disabled=${busy}>${busy ? 'Checking…' : provider.oauth ? `Connect ${provider.label}` : 'Add'}</button>`}
        <${ErrorNote} error=${error} />`}
    </form>
  </section>`;
}

export function Clouds() {
  const { data, error, reload } = usePoll(loadClouds, [], 0);
  return html`<h1 tabindex="-1">Clouds</h1>
    <${ErrorNote} error=${error} />
    ${data === undefined && !error ? html`<p class="loading">Loading…</p>`
      : data && data.length === 0 ? html`<p>No clouds yet: add one below.</p>`
      : data && html`<ul class="cards" aria-label="Your clouds">${data.map((item) => html`<${CloudRow} key=${item.remote.name} item=${item} onChanged=${reload} />`)}</ul>`}
    <${AddCloud} onAdded=${reload} existing=${data ?? []} />`;
}
