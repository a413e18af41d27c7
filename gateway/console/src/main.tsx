// The LLM Twin web console: sign in with an API key, then chat with the twin, manage sources and documents,
// watch the pipeline, read the generation records and (with an admin key) the training side. Hash routes
// (#/chat, #/sources, ...) keep every page on `/`, so the API owns every other path on the same origin.
import { render } from 'preact';
import './styles.css';
import { useEffect, useState } from 'preact/hooks';
import type { gatewayv1 } from '@llmtwin/contracts/web';
import { isUnauthenticated, session, signIn } from './api';
import { ErrorNote, Field } from './ui';
import type { Caller, PageProps } from './types';
import { ChatPage } from './pages/chat';
import { SourcesPage } from './pages/sources';
import { PipelinePage } from './pages/pipeline';
import { GenerationsPage } from './pages/generations';
import { TrainingPage } from './pages/training';

interface Route {
  path: string;
  title: string;
  adminOnly: boolean;
  page: (props: PageProps) => preact.JSX.Element;
}

const routes: Route[] = [
  { path: 'chat', title: 'Chat', adminOnly: false, page: ChatPage },
  { path: 'sources', title: 'Sources & documents', adminOnly: false, page: SourcesPage },
  { path: 'generations', title: 'Generations', adminOnly: false, page: GenerationsPage },
  { path: 'pipeline', title: 'Pipeline', adminOnly: true, page: PipelinePage },
  { path: 'training', title: 'Training', adminOnly: true, page: TrainingPage },
];

function parseHash(): { path: string; param: string } {
  const [, path = 'chat', ...rest] = location.hash.replace(/^#/, '').split('/');
  return { path: path || 'chat', param: decodeURIComponent(rest.join('/')) };
}

const THEME_ITEM = 'llmtwin.theme';
function applyTheme(theme: string): void {
  if (theme === 'light' || theme === 'dark') document.documentElement.dataset['theme'] = theme;
  else delete document.documentElement.dataset['theme'];
}

function ThemeSwitch() {
  const [theme, setTheme] = useState(() => localStorage.getItem(THEME_ITEM) ?? 'system');
  useEffect(() => {
    applyTheme(theme);
    localStorage.setItem(THEME_ITEM, theme);
  }, [theme]);
  return (
    <label class="theme-switch">
      <span class="visually-hidden">Colour theme</span>
      <select value={theme} onChange={(e) => setTheme((e.target as HTMLSelectElement).value)}>
        <option value="system">System theme</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}

function SignIn({ onSignedIn }: { onSignedIn: (caller: Caller) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (key.trim() === '') {
      setError(
        new Error(
          'Enter an API key: `llmtwin keys create` makes one; the twin wrote its admin key to <data dir>/admin.key.',
        ),
      );
      return;
    }
    setBusy(true);
    try {
      onSignedIn(toCaller(await signIn(key.trim())));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in" id="main">
      <form class="card" onSubmit={submit} aria-labelledby="sign-in-heading">
        <h1 id="sign-in-heading">LLM Twin</h1>
        <p>Sign in with an API key. It is kept in this tab only, and forgotten when the tab closes.</p>
        <Field label="API key" id="api-key" error={error} hint="An admin key, or an author's key.">
          {(props) => (
            <input
              {...props}
              type="password"
              autocomplete="off"
              value={key}
              onInput={(e) => setKey((e.target as HTMLInputElement).value)}
            />
          )}
        </Field>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

const toCaller = (c: gatewayv1.GetCallerResponse): Caller => ({
  admin: c.admin,
  authorId: c.authorId,
  keyId: c.keyId,
});

function App() {
  const [caller, setCaller] = useState<Caller | undefined>(undefined);
  const [checking, setChecking] = useState(session.key() !== null);
  const [error, setError] = useState<unknown>(undefined);
  const [route, setRoute] = useState(parseHash);

  useEffect(() => {
    const onHash = () => setRoute(parseHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    const key = session.key();
    if (key === null) return;
    signIn(key)
      .then((c) => setCaller(toCaller(c)))
      .catch((err: unknown) => {
        if (isUnauthenticated(err)) session.clear();
        else setError(err);
      })
      .finally(() => setChecking(false));
  }, []);

  useEffect(() => {
    const current = routes.find((r) => r.path === route.path);
    document.title = `${current?.title ?? 'Not found'} · LLM Twin`;
  }, [route]);

  if (checking) return <p class="muted">Checking your key…</p>;
  if (error) return <ErrorNote error={error} />;
  if (!caller) return <SignIn onSignedIn={setCaller} />;

  const visible = routes.filter((r) => caller.admin || !r.adminOnly);
  const current = visible.find((r) => r.path === route.path);
  const signOut = () => {
    session.clear();
    setCaller(undefined);
  };
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top-bar">
        <span class="brand">LLM Twin</span>
        <nav aria-label="Console">
          <ul>
            {visible.map((r) => (
              <li key={r.path}>
                <a href={`#/${r.path}`} aria-current={r === current ? 'page' : undefined}>
                  {r.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span class="muted">{caller.admin ? 'admin' : `author ${caller.authorId}`}</span>
          <ThemeSwitch />
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {current ? (
          <current.page caller={caller} param={route.param} />
        ) : (
          <p role="alert">
            No page “{route.path}”
            {routes.some((r) => r.path === route.path) ? ' for this key (admin keys only)' : ''}.{' '}
            <a href="#/chat">Go to the chat</a>.
          </p>
        )}
      </main>
    </>
  );
}

applyTheme(localStorage.getItem(THEME_ITEM) ?? 'system');
render(<App />, document.getElementById('app')!);
