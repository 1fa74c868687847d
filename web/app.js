import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { currentSession, onSignedOut, signOut } from './api.js';
import { SignIn } from './pages/signin.js';
import { Clouds } from './pages/clouds.js';
import { Browse } from './pages/browse.js';
import { Transfer } from './pages/transfer.js';
import { Runs } from './pages/runs.js';
import { Run } from './pages/run.js';
import { Schedules } from './pages/schedules.js';
import { ErrorNote } from './components/errorNote.js';

/** `#/runs/<id>?x=1` → { parts: ['runs', '<id>'], query }. Hash routes work on reload with one index.html. */
function parseHash(hash) {
  const [path, search = ''] = hash.replace(/^#\/?/, '').split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(search) };
}

function useRoute() {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

const nav = [
  ['clouds', 'Clouds'],
  ['transfer', 'New transfer'],
  ['runs', 'Runs'],
  ['schedules', 'Schedules'],
];

function Page({ route, session }) {
  const [first, second] = route.parts;
  switch (first) {
    case 'clouds': return html`<${Clouds} />`;
    case 'browse': return html`<${Browse} remote=${second} path=${route.query.get('path') ?? ''} />`;
    case 'transfer': return html`<${Transfer} query=${route.query} />`;
    case 'runs': return second ? html`<${Run} id=${second} session=${session} />` : html`<${Runs} />`;
    case 'schedules': return html`<${Schedules} />`;
    default: return html`<${Clouds} />`;
  }
}

function App() {
  const route = useRoute();
  /** @type {[import('./api.js').Session | null | undefined, Function]} */
  const [session, setSession] = useState(undefined);
  const [error, setError] = useState(null);

  useEffect(() => {
    currentSession().then(setSession, setError);
    return onSignedOut(() => setSession(null));
  }, []);

  // Each page starts at its heading, so a screen reader hears where it is after a route change.
  useEffect(() => {
    document.querySelector('main h1')?.focus();
  }, [route.parts.join('/'), session?.user?.id]);

  if (error) return html`<main id="main"><${ErrorNote} error=${error} /></main>`;
  if (session === undefined) return html`<main id="main"><p class="loading">Loading…</p></main>`;
  if (session === null) return html`<${SignIn} onSignedIn=${setSession} />`;

  const current = route.parts[0] || 'clouds';
  const out = async () => {
    try {
      await signOut();
    } finally {
      setSession(null);
      location.hash = '#/';
    }
  };
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/clouds">knarr</a>
      <nav aria-label="Main">
        <ul>
          ${nav.map(([id, label]) => html`<li><a href=${`#/${id}`} aria-current=${current === id || (id === 'clouds' && current === 'browse') ? 'page' : undefined}>${label}</a></li>`)}
        </ul>
      </nav>
      <div class="who">
        <span>${session.user.name}</span>
        <button type="button" class="secondary" onClick=${out}>Sign out</button>
      </div>
    </header>
    <main id="main" tabindex="-1">
      <${Page} route=${route} session=${session} />
    </main>`;
}

const root = document.getElementById('app');
// The "Loading" placeholder is the page's own text, not Preact's: render would keep it beside the app.
root.textContent = '';
render(html`<${App} />`, root);
