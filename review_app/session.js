// The reviewer's sign-in session, for every page of the app: authorization code + PKCE (Cognito's
// managed login on AWS, the local stack's stand-in offline), the tokens it yields, and their renewal
// with the refresh token before the ID token runs out, so a long task never ends in a sign-in.
"use strict";

const TOKENS_KEY = "hitl-review.tokens";
const FLOW_KEY = "hitl-review.sign-in";
const RENEW_MARGIN_MS = 5 * 60_000;
const RENEW_SHARE = 0.25; // tokens shorter-lived than 20 minutes are renewed in their last quarter

export class SignInNeeded extends Error {
  constructor(reason) {
    super(`Your sign-in has ended (${reason}): sign in again to go on.`);
  }
}

export function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// 32 random bytes: a 43-character verifier, inside RFC 7636's 43-128.
export function makeVerifier() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

export async function challengeFor(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

// Where the sign-in service lives: Cognito's managed login domain, or the local stand-in.
export function signInEndpoints(auth) {
  let base;
  if (auth.mode === "local") base = auth.signInUrl;
  else if (auth.mode === "cognito") base = /^https:\/\//.test(auth.domain) ? auth.domain : `https://${auth.domain}`;
  else throw new Error(`unknown sign-in mode ${auth.mode}`);
  base = base.replace(/\/+$/, "");
  return { authorize: `${base}/oauth2/authorize`, token: `${base}/oauth2/token`, logout: `${base}/logout` };
}

// The app's own root page: the redirect and sign-out target registered with the app client.
export function appRoot(location = window.location) {
  return new URL("./", location.href).href;
}

export function authorizeUrl(config, state, challenge, redirectUri = appRoot()) {
  const url = new URL(signInEndpoints(config.auth).authorize);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: config.auth.userPoolClientId,
    redirect_uri: redirectUri,
    scope: "openid email profile",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  return url.href;
}

export function decodeToken(token) {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

function storedTokens() {
  try {
    return JSON.parse(localStorage.getItem(TOKENS_KEY) || "null");
  } catch {
    return null;
  }
}

// When the ID token should be renewed: a few minutes before it expires (a share of a short life).
export function renewAt(claims) {
  const lifetimeMs = (claims.exp - (claims.iat ?? claims.exp)) * 1000;
  return claims.exp * 1000 - Math.min(RENEW_MARGIN_MS, lifetimeMs * RENEW_SHARE);
}

async function tokenRequest(config, fields) {
  let response;
  try {
    response = await fetch(signInEndpoints(config.auth).token, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: config.auth.userPoolClientId, ...fields }),
    });
  } catch {
    return { error: "the sign-in service cannot be reached", reachable: false };
  }
  const reply = await response.json().catch(() => ({}));
  if (!response.ok || !reply.id_token) return { error: reply.error || `status ${response.status}`, reachable: true };
  return reply;
}

// One reviewer's session on this browser; `beforeSignIn` hooks run before the page leaves to sign in.
export function createSession(config) {
  const leaving = [];
  let renewal = null;

  function save(idToken, refreshToken) {
    localStorage.setItem(TOKENS_KEY, JSON.stringify({ idToken, refreshToken }));
  }

  // The signed-in reviewer (from the stored ID token, even if it needs renewing), or null.
  function user() {
    const tokens = storedTokens();
    if (!tokens?.idToken) return null;
    try {
      const claims = decodeToken(tokens.idToken);
      return {
        sub: claims.sub,
        name: claims.name || claims["cognito:username"] || claims.email || claims.sub,
        groups: claims["cognito:groups"] || [],
      };
    } catch {
      return null;
    }
  }

  // Trade the refresh token for a new ID token; one renewal at a time, shared by every caller.
  function renew() {
    renewal ??= (async () => {
      const tokens = storedTokens();
      if (!tokens?.refreshToken) throw new SignInNeeded("no refresh token");
      const reply = await tokenRequest(config, { grant_type: "refresh_token", refresh_token: tokens.refreshToken });
      if (reply.error) {
        if (!reply.reachable) throw new Error(`The sign-in could not be renewed: ${reply.error}.`);
        throw new SignInNeeded(reply.error);
      }
      // Cognito sends a new refresh token only when rotation is on; otherwise the old one stays.
      save(reply.id_token, reply.refresh_token || tokens.refreshToken);
      return reply.id_token;
    })().finally(() => {
      renewal = null;
    });
    return renewal;
  }

  // An ID token good for a while yet: renewed first when it is close to its end.
  async function idToken(now = Date.now()) {
    const tokens = storedTokens();
    if (!tokens?.idToken) throw new SignInNeeded("not signed in");
    let claims;
    try {
      claims = decodeToken(tokens.idToken);
    } catch {
      throw new SignInNeeded("unreadable token");
    }
    return now < renewAt(claims) ? tokens.idToken : renew();
  }

  async function signIn(returnTo = window.location.href) {
    for (const hook of leaving) hook();
    const verifier = makeVerifier();
    const state = makeVerifier();
    sessionStorage.setItem(FLOW_KEY, JSON.stringify({ verifier, state, returnTo }));
    window.location.assign(authorizeUrl(config, state, await challengeFor(verifier)));
  }

  // On the redirect back: trade the code (with the verifier) for tokens; returns where to go next.
  async function finishSignIn(params) {
    const flow = JSON.parse(sessionStorage.getItem(FLOW_KEY) || "null");
    sessionStorage.removeItem(FLOW_KEY);
    if (params.get("error")) throw new Error(`sign-in failed: ${params.get("error_description") || params.get("error")}`);
    if (!flow || flow.state !== params.get("state")) throw new Error("sign-in failed: the answer does not match a sign-in started here");
    const reply = await tokenRequest(config, {
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: appRoot(),
      code_verifier: flow.verifier,
    });
    if (reply.error) throw new Error(`sign-in failed: ${reply.error}`);
    save(reply.id_token, reply.refresh_token);
    return flow.returnTo || appRoot();
  }

  function signOut() {
    localStorage.removeItem(TOKENS_KEY);
    const url = new URL(signInEndpoints(config.auth).logout);
    url.search = new URLSearchParams({ client_id: config.auth.userPoolClientId, logout_uri: appRoot() }).toString();
    window.location.assign(url.href);
  }

  // fetch with the reviewer's ID token. A refusal is answered by one renewal and one retry: a 401,
  // or a network error, which is what a browser reports for an authorizer's 401 without CORS headers.
  async function authorizedFetch(url, init = {}) {
    const send = (token) => fetch(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } });
    let response;
    try {
      response = await send(await idToken());
    } catch (error) {
      if (error instanceof SignInNeeded) throw error;
      response = null;
    }
    if (response && response.status !== 401) return response;
    const again = await send(await renew());
    if (again.status === 401) throw new SignInNeeded("the API refused the renewed token");
    return again;
  }

  // A POST the browser still sends once the page is gone (keepalive), with the token as it is now:
  // a page that is closing cannot wait for a renewal.
  function sendOnLeave(url) {
    const token = storedTokens()?.idToken;
    if (!token) return;
    fetch(url, { method: "POST", keepalive: true, headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
  }

  return {
    config,
    user,
    sendOnLeave,
    idToken,
    renew,
    signIn,
    finishSignIn,
    signOut,
    fetch: authorizedFetch,
    beforeSignIn: (hook) => leaving.push(hook),
  };
}
