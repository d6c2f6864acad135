// Sign-in as a public OpenID Connect client: authorization code with PKCE (RFC 7636), tokens
// kept in this tab's sessionStorage, refreshed before they expire, sign-out at the provider.
// The provider is the embedded one or an external Keycloak: /console/config.json says which.

const TOKENS = "sodata.tokens";
const PENDING = "sodata.signin"; // the verifier, state and page of a sign-in under way
const EARLY = 20_000; // refresh this many ms before the access token expires
export const CALLBACK = "/console/callback";

let provider; // {clientId, issuer, authorization_endpoint, token_endpoint, end_session_endpoint}
let refreshing = null; // one refresh at a time, shared by every request waiting for it

export class SignInError extends Error {}

async function json(response, what) {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const reason = body.error_description || body.message || body.error || response.statusText;
    throw new SignInError(`${what}: ${reason} (HTTP ${response.status})`);
  }
  return body;
}

export async function loadProvider() {
  if (provider) return provider;
  const config = await json(await fetch("/console/config.json"), "Console configuration");
  const discovery = await json(
    await fetch(`${config.issuer}/.well-known/openid-configuration`),
    "Identity provider",
  );
  provider = { ...discovery, clientId: config.clientId };
  return provider;
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

function store(answer) {
  const tokens = {
    access: answer.access_token,
    refresh: answer.refresh_token,
    id: answer.id_token || saved()?.id,
    expiresAt: Date.now() + (answer.expires_in || 60) * 1000,
  };
  sessionStorage.setItem(TOKENS, JSON.stringify(tokens));
  return tokens;
}

function saved() {
  try {
    return JSON.parse(sessionStorage.getItem(TOKENS));
  } catch {
    return null;
  }
}

export function isSignedIn() {
  return Boolean(saved()?.refresh || saved()?.access);
}

/** Claims of the ID token (who is signed in), without checking it: it came from the provider
 * over the token endpoint, and the API checks the access token on every call. */
export function identity() {
  const id = saved()?.id;
  if (!id) return {};
  try {
    return JSON.parse(atob(id.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
}

/** Leaves for the provider's sign-in page; comes back to `returnTo` after the callback. */
export async function signIn(returnTo = location.pathname + location.search) {
  const p = await loadProvider();
  const verifier = randomText();
  const state = randomText();
  const challenge = base64url(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)),
  );
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo }));
  const url = new URL(p.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: p.clientId,
    redirect_uri: location.origin + CALLBACK,
    scope: "openid",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(url);
  return new Promise(() => {}); // the page is leaving
}

/** On /console/callback: trades the code for tokens; returns the page to go back to. */
export async function completeSignIn() {
  const query = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  if (query.get("error")) {
    throw new SignInError(`Sign-in failed: ${query.get("error_description") || query.get("error")}`);
  }
  if (!pending || query.get("state") !== pending.state) {
    throw new SignInError("Sign-in failed: this answer does not match a sign-in started here. Sign in again.");
  }
  const p = await loadProvider();
  const answer = await json(
    await fetch(p.token_endpoint, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: query.get("code") || "",
        redirect_uri: location.origin + CALLBACK,
        client_id: p.clientId,
        code_verifier: pending.verifier,
      }),
    }),
    "Sign-in failed",
  );
  store(answer);
  return pending.returnTo || "/console/";
}

async function refresh() {
  const p = await loadProvider();
  const current = saved();
  if (!current?.refresh) return null;
  const response = await fetch(p.token_endpoint, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: current.refresh,
      client_id: p.clientId,
    }),
  });
  if (!response.ok) return null; // the session ended at the provider: sign in again
  return store(await response.json());
}

/** A valid access token, refreshed silently when it is about to expire (or `force`d, after a
 * 401); signs in again, keeping the page, when the session cannot be refreshed. */
export async function accessToken({ force = false } = {}) {
  const current = saved();
  if (current?.access && !force && current.expiresAt - EARLY > Date.now()) return current.access;
  refreshing ??= refresh().finally(() => (refreshing = null));
  const fresh = await refreshing;
  if (fresh) return fresh.access;
  sessionStorage.removeItem(TOKENS);
  return signIn();
}

/** Ends the session at the provider, which sends the browser back to the console. */
export async function signOut() {
  const p = await loadProvider();
  const idToken = saved()?.id;
  sessionStorage.removeItem(TOKENS);
  if (!p.end_session_endpoint) {
    location.assign("/console/");
    return;
  }
  const url = new URL(p.end_session_endpoint);
  url.search = new URLSearchParams({
    client_id: p.clientId,
    post_logout_redirect_uri: location.origin + "/console/",
    ...(idToken ? { id_token_hint: idToken } : {}),
  });
  location.assign(url);
}
