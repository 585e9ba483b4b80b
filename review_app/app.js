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
  async function send(method, path, body) {
    try {
      return await session.fetch(base + path, {
        method,
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (error) {
      if (error instanceof SignInNeeded) throw error;
      throw new ApiError(0, "the review service could not be reached; try again in a moment");
    }
  }
  async function call(method, path, body) {
    const response = await send(method, path, body);
    const reply = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, reply.message || `the API answered ${response.status}`);
    return reply;
  }
  // Every task in a status, following the API's pages (nextToken) to the end.
  async function allTasks(status) {
    const tasks = [];
    let token = null;
    do {
      const query = new URLSearchParams({ status, ...(token ? { nextToken: token } : {}) });
      const page = await call("GET", `/tasks?${query}`);
      tasks.push(...page.tasks);
      token = page.nextToken;
    } while (token);
    return { tasks };
  }
  // The task the service gives this reviewer next (its lease now theirs), or why there is none.
  async function next(skip) {
    const response = await send("POST", "/tasks/next", { skip });
    if (response.status === 204) return { task: null, budgetSpent: response.headers.get("X-Review-Budget") === "spent" };
    const reply = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, reply.message || `the API answered ${response.status}`);
    return { task: reply, budgetSpent: false };
  }
  const task = (name) => `/tasks/${encodeURIComponent(name)}`;
  return {
    tasks: (status = "InProgress") => allTasks(status),
    firstTasks: (status = "InProgress") => call("GET", `/tasks?status=${encodeURIComponent(status)}`),
    task: (name) => call("GET", task(name)),
    next,
    claim: (name) => call("POST", `${task(name)}/claim`),
    release: (name) => call("POST", `${task(name)}/release`),
    // Hand the task back as the page goes away: a request the browser finishes after the page is gone.
    releaseOnLeave: (name) => session.sendOnLeave(`${base}${task(name)}/release`),
    answer: (name, body) => call("POST", `${task(name)}/answer`, body),
    stop: (name) => call("POST", `${task(name)}/stop`),
    adminSummary: () => call("GET", "/admin/summary"),
    adminSummaryCsv: async () => {
      const response = await send("GET", "/admin/summary.csv");
      if (!response.ok) throw new ApiError(response.status, `the API answered ${response.status}`);
      return response.blob();
    },
    adminRelease: (name) => call("POST", `/admin${task(name)}/release`),
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

// Who holds a task someone else is working on, and until when (a <time> element), for messages.
export function holder(task) {
  const until = document.createElement("time");
  until.dateTime = task.leaseExpiresAt || "";
  until.textContent = task.leaseExpiresAt
    ? new Date(task.leaseExpiresAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "later";
  return { who: task.claimedBy || "Another reviewer", until };
}

export const isAdmin = (page) => page.user.groups.includes(page.config.adminGroup || "review-admins");

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
