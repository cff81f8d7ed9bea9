// Sign-in: the demo-identity page in `kaigo dev`, OpenID Connect (authorization code
// + PKCE) in production, or a pasted token where the gateway offers neither.
import { useEffect, useId, useState, type FormEvent } from "react";
import { fetchAuthConfig, fetchDevIdentities, fetchDevToken, type AuthConfig, type DevIdentity } from "./authApi";
import { LanguageSwitch, PageHeading } from "./components";
import { fmt, useLang, useMessages } from "./i18n";
import { shellMessages } from "./messages";
import { beginLogin, completeLogin } from "./oidc";
import { navigate } from "./router";
import { startSession } from "./session";

export function SignIn({ notice }: { notice: "expired" | "signed-out" | null }) {
  const m = useMessages(shellMessages);
  const { lang } = useLang();
  const [config, setConfig] = useState<AuthConfig | null>(null);
  const [identities, setIdentities] = useState<DevIdentity[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [pasted, setPasted] = useState("");
  const tokenId = useId();

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const cfg = await fetchAuthConfig();
        if (!live) return;
        setConfig(cfg);
        if (cfg.mode === "dev") {
          const ids = await fetchDevIdentities();
          if (live) setIdentities(ids);
        }
      } catch (e) {
        if (live) setError(fmt(m.loadError, { detail: (e as Error).message }));
      }
    })();
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const devSignIn = async (id: string) => {
    setBusy(true);
    setError(null);
    try {
      startSession(await fetchDevToken(id));
    } catch (e) {
      setError(fmt(m.loadError, { detail: (e as Error).message }));
    } finally {
      setBusy(false);
    }
  };

  const oidcSignIn = async () => {
    if (!config?.oidc) return;
    setBusy(true);
    const url = await beginLogin(config.oidc, location.origin, location.pathname, sessionStorage);
    location.assign(url);
  };

  const tokenSignIn = (e: FormEvent) => {
    e.preventDefault();
    try {
      startSession(pasted.trim());
    } catch (err) {
      setError(fmt(m.loadError, { detail: (err as Error).message }));
    }
  };

  return (
    <main id="main" className="signin" tabIndex={-1}>
      <div className="signin-top">
        <p className="brand">{m.appName}</p>
        <LanguageSwitch className="lang-switch" />
      </div>
      <PageHeading title={m.signInTitle}>{m.signInTitle}</PageHeading>
      {notice ? (
        <p className="alert alert-info" role="status">
          {notice === "expired" ? m.expired : m.signedOut}
        </p>
      ) : null}
      {error ? (
        <p className="alert alert-error" role="alert">
          {error}
        </p>
      ) : null}
      {busy ? <p role="status">{m.signingIn}</p> : null}
      {config?.mode === "dev" ? (
        <>
          <p>{m.signInLead}</p>
          <ul className="identity-list">
            {identities.map((i) => (
              <li key={i.id}>
                <button type="button" disabled={busy} data-identity={i.id} onClick={() => devSignIn(i.id)}>
                  <span className="identity-label">{lang === "ja" ? i.label_ja : i.label_en}</span>
                  <span className="identity-org">
                    {i.insurer_number ?? i.office_number ?? i.institution_code ?? ""}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {config?.mode === "oidc" ? (
        <>
          <p>{m.signInOidcLead}</p>
          <button type="button" className="primary" disabled={busy} onClick={oidcSignIn}>
            {m.signInOidc}
          </button>
        </>
      ) : null}
      {config?.mode === "none" ? (
        <form onSubmit={tokenSignIn} className="stack">
          <p>{m.signInNone}</p>
          <div className="field">
            <label htmlFor={tokenId}>{m.tokenLabel}</label>
            <textarea
              id={tokenId}
              value={pasted}
              onChange={(e) => setPasted(e.target.value)}
              rows={4}
              autoComplete="off"
              spellCheck={false}
            />
          </div>
          <button type="submit" className="primary">
            {m.tokenSubmit}
          </button>
        </form>
      ) : null}
    </main>
  );
}

/** /auth/callback: finishes the OIDC login, then returns to where the user started. */
// The callback runs once per page load (React's StrictMode runs effects twice in dev).
let callbackStarted = false;

export function OidcCallback() {
  const m = useMessages(shellMessages);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (callbackStarted) return;
    callbackStarted = true;
    const search = location.search;
    // Drop the code and state from the address bar and history at once.
    history.replaceState(null, "", "/auth/callback");
    (async () => {
      try {
        const cfg = await fetchAuthConfig();
        if (cfg.mode !== "oidc" || !cfg.oidc) throw new Error("OpenID Connect is not configured");
        const { token, returnTo } = await completeLogin(cfg.oidc, location.origin, search, sessionStorage);
        startSession(token);
        navigate(returnTo === "/auth/callback" ? "/" : returnTo, { replace: true });
      } catch (e) {
        setError(fmt(m.callbackError, { detail: (e as Error).message }));
      }
    })();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <main id="main" className="signin" tabIndex={-1}>
      <PageHeading title={m.signInTitle}>{m.signInTitle}</PageHeading>
      {error ? (
        <>
          <p className="alert alert-error" role="alert">
            {error}
          </p>
          <p>
            <a href="/">{m.home}</a>
          </p>
        </>
      ) : (
        <p role="status">{m.signingIn}</p>
      )}
    </main>
  );
}
