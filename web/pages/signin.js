import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { signIn } from '../api.js';
import { ErrorNote } from '../components/errorNote.js';

/** The key goes to the server once, which answers a session cookie; the page never keeps it. */
export function SignIn({ onSignedIn }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await signIn(key.trim());
      setKey('');
      onSignedIn(session);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main" class="signin" tabindex="-1">
    <h1 tabindex="-1">Sign in to knarr</h1>
    <form onSubmit=${submit}>
      <div class="field">
        <label for="signin-key">API key</label>
        <input id="signin-key" name="key" type="password" autocomplete="off" required value=${key}
          aria-describedby="signin-help" onInput=${(e) => setKey(e.currentTarget.value)} />
        <p class="help" id="signin-help">The key your knarr administrator gave you (it starts with knarr_). It is not stored in this browser: the server gives it a session instead.</p>
      </div>
      <button type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      <${ErrorNote} error=${error} />
    </form>
  </main>`;
}
