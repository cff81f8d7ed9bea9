// The app shell: session, sign-in, navigation by role, language switch, routing.
import { Suspense, useEffect, useState } from "react";
import { screenFor, screens } from "../screens";
import { LanguageSwitch, Loading, PageHeading } from "./components";
import { fmt, useLang, useMessages } from "./i18n";
import { shellMessages } from "./messages";
import { Link, navigate, usePath } from "./router";
import { endSession, loadSession, onSessionChange, type Session } from "./session";
import { OidcCallback, SignIn } from "./SignIn";

export function App() {
  const path = usePath();
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [notice, setNotice] = useState<"expired" | "signed-out" | null>(null);

  useEffect(
    () =>
      onSessionChange((reason) => {
        setSession(loadSession());
        setNotice(reason === "signed-in" ? null : reason);
      }),
    [],
  );

  // Leave when the token expires, even if no call is made.
  useEffect(() => {
    if (!session) return;
    const ms = session.claims.exp * 1000 - Date.now();
    const t = window.setTimeout(() => endSession("expired"), Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    return () => window.clearTimeout(t);
  }, [session]);

  if (path === "/auth/callback") return <OidcCallback />;
  if (!session) return <SignIn notice={notice} />;
  return <Shell session={session} path={path} />;
}

function Shell({ session, path }: { session: Session; path: string }) {
  const m = useMessages(shellMessages);
  const { lang } = useLang();
  const role = session.claims.role;
  const mine = screens.filter((s) => s.roles.includes(role));
  const found = screenFor(path);
  const org = session.claims.insurer_number ?? session.claims.office_number ?? session.claims.institution_code;
  const roleText = m[`role_${role}` as keyof typeof m];

  useEffect(() => {
    if (path === "/" || path === "/signin") {
      if (mine.length) navigate(mine[0].path, { replace: true });
    }
  }, [path, mine]);

  let body;
  if (path === "/" || path === "/signin") {
    body = (
      <>
        <PageHeading title={m.home}>{m.home}</PageHeading>
        <p>{m.homeLead}</p>
      </>
    );
  } else if (!found) {
    body = <PageHeading title={m.notFound}>{m.notFound}</PageHeading>;
  } else if (!found.screen.roles.includes(role)) {
    body = (
      <>
        <PageHeading title={found.screen.title[lang]}>{found.screen.title[lang]}</PageHeading>
        <p role="alert">{m.notAllowed}</p>
      </>
    );
  } else {
    const C = found.screen.component;
    body = (
      <Suspense fallback={<Loading />}>
        <C key={found.screen.id} session={session} subpath={found.subpath} />
      </Suspense>
    );
  }

  return (
    <div className="app">
      <a className="skip" href="#main">
        {m.skip}
      </a>
      <header className="topbar">
        <p className="brand">{m.appName}</p>
        <p className="who" data-testid="signed-in-as">
          {fmt(m.signedInAs, { role: roleText })}
          {org ? <span className="org"> ({org})</span> : null}
        </p>
        <div className="top-actions">
          <LanguageSwitch />
          <button
            type="button"
            onClick={() => {
              endSession("signed-out");
              navigate("/", { replace: true });
            }}
          >
            {m.signOut}
          </button>
        </div>
      </header>
      <nav aria-label={m.nav} className="mainnav">
        <ul>
          {mine.map((s) => {
            const current = found?.screen.id === s.id;
            return (
              <li key={s.id}>
                <Link to={s.path} aria-current={current ? "page" : undefined}>
                  {s.title[lang]}
                </Link>
              </li>
            );
          })}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {body}
      </main>
    </div>
  );
}
