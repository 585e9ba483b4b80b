// The review app's shared parts: runtime settings (config.json), sign-in (authorization code +
// PKCE, against Cognito's managed login on AWS or the local stack's stand-in) and the review API.
"use strict";

const TOKEN_KEY = "hitl-review.token";
const FLOW_KEY = "hitl-review.sign-in";
const EXPIRY_SKEW_MS = 60_000;

export async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json could not be read (${response.status})`);
  return response.json();
}

// ---- sign-in: authorization code + PKCE (RFC 7636) -----------------------------------------

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

export async function beginSignIn(config, returnTo = window.location.href) {
  const verifier = makeVerifier();
  const state = makeVerifier();
  sessionStorage.setItem(FLOW_KEY, JSON.stringify({ verifier, state, returnTo }));
  window.location.assign(authorizeUrl(config, state, await challengeFor(verifier)));
}

// On the redirect back: trade the code (with the verifier) for tokens; returns where to go next.
export async function finishSignIn(config, params) {
  const flow = JSON.parse(sessionStorage.getItem(FLOW_KEY) || "null");
  sessionStorage.removeItem(FLOW_KEY);
  if (params.get("error")) throw new Error(`sign-in failed: ${params.get("error_description") || params.get("error")}`);
  if (!flow || flow.state !== params.get("state")) throw new Error("sign-in failed: the answer does not match a sign-in started here");
  const response = await fetch(signInEndpoints(config.auth).token, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: config.auth.userPoolClientId,
      code: params.get("code"),
      redirect_uri: appRoot(),
      code_verifier: flow.verifier,
    }),
  });
  const tokens = await response.json().catch(() => ({}));
  if (!response.ok || !tokens.id_token) throw new Error(`sign-in failed: ${tokens.error || response.status}`);
  localStorage.setItem(TOKEN_KEY, tokens.id_token);
  return flow.returnTo || appRoot();
}

export function decodeToken(token) {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// The signed-in reviewer, or null when there is no token or it is about to expire.
export function currentUser(now = Date.now()) {
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  try {
    const claims = decodeToken(token);
    if (claims.exp * 1000 - EXPIRY_SKEW_MS < now) return null;
    return {
      token,
      sub: claims.sub,
      name: claims.name || claims["cognito:username"] || claims.email || claims.sub,
      groups: claims["cognito:groups"] || [],
    };
  } catch {
    return null;
  }
}

export function signOut(config) {
  localStorage.removeItem(TOKEN_KEY);
  const url = new URL(signInEndpoints(config.auth).logout);
  url.search = new URLSearchParams({ client_id: config.auth.userPoolClientId, logout_uri: appRoot() }).toString();
  window.location.assign(url.href);
}

// ---- the review API ------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function reviewApi(config, user) {
  const base = config.apiUrl.replace(/\/+$/, "");
  async function call(method, path, body) {
    const response = await fetch(base + path, {
      method,
      headers: { Authorization: `Bearer ${user.token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const reply = await response.json().catch(() => ({}));
    if (response.status === 401) {
      localStorage.removeItem(TOKEN_KEY);
      await beginSignIn(config);
    }
    if (!response.ok) throw new ApiError(response.status, reply.message || `the API answered ${response.status}`);
    return reply;
  }
  const task = (name) => `/tasks/${encodeURIComponent(name)}`;
  return {
    tasks: (status = "InProgress") => call("GET", `/tasks?status=${encodeURIComponent(status)}`),
    task: (name) => call("GET", task(name)),
    claim: (name) => call("POST", `${task(name)}/claim`),
    release: (name) => call("POST", `${task(name)}/release`),
    answer: (name, body) => call("POST", `${task(name)}/answer`, body),
    stop: (name) => call("POST", `${task(name)}/stop`),
  };
}

// ---- page start ----------------------------------------------------------------------------

// The settings, the signed-in reviewer and the API, or null while the browser goes to sign in.
export async function signedIn() {
  const config = await loadConfig();
  const params = new URLSearchParams(window.location.search);
  if (params.has("code") || params.has("error")) {
    const next = new URL(await finishSignIn(config, params));
    if (next.pathname !== window.location.pathname) {
      window.location.replace(next.href);  // back to the page that asked for the sign-in
      return null;
    }
    window.history.replaceState(null, "", next.href);
  }
  const user = currentUser();
  if (!user) {
    await beginSignIn(config);
    return null;
  }
  return { config, user, api: reviewApi(config, user) };
}

// A task the reviewer can take now: open, not held by someone else, not answered by them yet.
export const available = (task) => !task.answeredByYou && (!task.leaseOwner || task.claimedByYou);

// The header's right side: who is signed in (and that the sign-in is the local stand-in), sign out.
export function showUser(session, element) {
  const who = document.createElement("span");
  who.className = "meta";
  who.id = "signed-in";
  who.textContent = `Signed in as ${session.user.name}`;
  element.append(who);
  if (session.config.auth.mode === "local") {
    const badge = document.createElement("span");
    badge.className = "local-badge";
    badge.textContent = "local sign-in stand-in";
    element.append(badge);
  }
  const out = document.createElement("button");
  out.type = "button";
  out.id = "sign-out";
  out.textContent = "Sign out";
  out.addEventListener("click", () => signOut(session.config));
  element.append(out);
}

export function age(iso, now = Date.now()) {
  const seconds = Math.max((now - Date.parse(iso)) / 1000, 0);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  const days = Math.floor(seconds / 86400);
  return days === 1 ? "1 day" : `${days} days`;
}
