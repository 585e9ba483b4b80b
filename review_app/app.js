// The review app's shared parts: runtime settings (config.json), the review API (under the site's own
// origin at api/, as CloudFront serves it on AWS and the local stack's site does offline) and the
// header; sign-in and token renewal live in session.js.
"use strict";

import { SignInNeeded, appRoot, createSession } from "./session.js";

export async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json could not be read (${response.status})`);
  return response.json();
}

// ---- the review API ------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const apiBase = () => new URL("api/", appRoot()).href;

export function reviewApi(session) {
  const base = apiBase().replace(/\/+$/, "");
  async function call(method, path, body) {
    let response;
    try {
      response = await session.fetch(base + path, {
        method,
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (error) {
      if (error instanceof SignInNeeded) throw error;
      throw new ApiError(0, "the review service could not be reached; try again in a moment");
    }
    const reply = await response.json().catch(() => ({}));
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

// The settings, the session and the API, or null while the browser goes to sign in.
export async function signedIn() {
  const config = await loadConfig();
  const session = createSession(config);
  const params = new URLSearchParams(window.location.search);
  if (params.has("code") || params.has("error")) {
    const next = new URL(await session.finishSignIn(params));
    if (next.pathname !== window.location.pathname) {
      window.location.replace(next.href);  // back to the page that asked for the sign-in
      return null;
    }
    window.history.replaceState(null, "", next.href);
  }
  const user = session.user();
  if (!user) {
    await session.signIn();
    return null;
  }
  return { config, session, user, api: reviewApi(session) };
}

// A task the reviewer can take now: open, not held by someone else, not answered by them yet.
export const available = (task) => !task.answeredByYou && (!task.leaseOwner || task.claimedByYou);

// The header's right side: who is signed in (and that the sign-in is the local stand-in), sign out.
export function showUser(page, element) {
  const who = document.createElement("span");
  who.className = "meta";
  who.id = "signed-in";
  who.textContent = `Signed in as ${page.user.name}`;
  element.append(who);
  if (page.config.auth.mode === "local") {
    const badge = document.createElement("span");
    badge.className = "local-badge";
    badge.textContent = "local sign-in stand-in";
    element.append(badge);
  }
  const out = document.createElement("button");
  out.type = "button";
  out.id = "sign-out";
  out.textContent = "Sign out";
  out.addEventListener("click", () => page.session.signOut());
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
