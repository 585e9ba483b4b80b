// The task page: claim the task, run the shared editor on it, submit or hand it back through the API.
import { ApiError, available, signedIn, showUser } from "./app.js";
import { SignInNeeded } from "./session.js";

const $ = (id) => document.getElementById(id);
const name = new URLSearchParams(window.location.search).get("name") || "";
const DRAFT_KEY = `hitl-review.draft:${name}`;
const LEASE_RETRY_MS = 15_000;

function say(text) {
  $("workspace").replaceChildren();
  $("message-text").textContent = text;
  $("message").hidden = false;
  document.body.classList.remove("task-page");
  document.body.dataset.state = "message";
}

const taken = "Another reviewer is working on this task. It comes back to the list if they hand it back.";

// Why this reviewer cannot work on the task now, or null when they can.
function refusal(task) {
  if (task.status !== "InProgress") return `This task is ${task.status}: there is nothing left to review here.`;
  if (task.answeredByYou) return "You have answered this task; it waits for other reviewers.";
  if (task.leaseOwner && !task.claimedByYou) return taken;
  return null;
}

// The next task this reviewer can take, else the list.
async function goOn(api) {
  const open = await api.tasks("InProgress");
  const following = open.tasks.find((task) => task.name !== name && available(task));
  window.location.assign(following ? `task.html?name=${encodeURIComponent(following.name)}` : "./");
  return following;
}

let sent = false; // the answer (or the hand-back) went out: nothing left to keep

// The reviewer's boxes, kept in this tab while the page is away (a new sign-in) and put back after.
function keepDraft() {
  const editor = window.reviewEditor;
  if (!editor || sent) return;
  const boxes = editor.state.boxes.map(({ label, left, top, width, height, score, initial }) =>
    ({ label, left, top, width, height, score, initial }));
  sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ boxes }));
}

function takeDraft() {
  const draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || "null");
  return draft?.boxes ?? null;
}

function settled() {
  sent = true;
  sessionStorage.removeItem(DRAFT_KEY);
}

// Renew the lease at half its remaining time while the page is open. A failed renewal is tried
// again at half of what is left; an ended sign-in is renewed (the boxes kept), not left to lapse.
function keepLease(page, expiresAt) {
  const remaining = expiresAt - Date.now();
  if (!(remaining > 0)) return;
  setTimeout(async () => {
    try {
      const lease = await page.api.claim(name);
      keepLease(page, Date.parse(lease.leaseExpiresAt));
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) say(taken);
      else if (error instanceof SignInNeeded) await page.session.signIn();
      else keepLease(page, expiresAt);
    }
  }, remaining / 2);
}

// Hand the work to the API; an ended sign-in keeps the boxes and comes back here after signing in.
async function send(page, work) {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof SignInNeeded)) throw error;
    await page.session.signIn();
    return "Your sign-in has ended: sign in again; your boxes are kept for this task.";
  }
}

function editorTask(task) {
  const content = task.inputContent;
  return {
    name: task.name,
    labels: content.labels ?? [],
    initialValue: content.initialValue ?? null,
    initialScores: content.initialScores ?? [],
    imageSize: content.imageSize ?? null,
    imageUrl: task.imageUrl,
    readOnly: false,
  };
}

async function open(page) {
  const { api } = page;
  let opened;
  try {
    opened = await api.task(name);
  } catch (error) {
    if (error instanceof SignInNeeded) return page.session.signIn();
    return say(error instanceof ApiError && error.status === 404 ? `There is no task named ${name}.` : error.message);
  }
  $("task-title").textContent = opened.title || opened.name;
  $("task-name").textContent = opened.name;
  document.title = `${opened.title || opened.name} · review`;
  const refused = refusal(opened);
  if (refused) return say(refused);
  let claimed;
  try {
    claimed = await api.claim(name);
  } catch (error) {
    if (error instanceof SignInNeeded) return page.session.signIn();
    return say(error instanceof ApiError && error.status === 409 ? taken : error.message);
  }
  const markup = await fetch("editor.html");
  $("workspace").innerHTML = await markup.text();
  const pending = (await api.tasks("InProgress")).tasks.filter(available);
  const place = pending.findIndex((item) => item.name === name);
  $("queue-place").textContent = place >= 0 ? `${place + 1} of ${pending.length} pending` : "";
  keepLease(page, Date.parse(claimed.leaseExpiresAt));
  const draft = takeDraft();
  window.addEventListener("pagehide", keepDraft);
  page.session.beforeSignIn(() => {
    keepDraft();
    // The boxes are kept: leave without the unsaved-work prompt.
    if (window.reviewEditor) window.reviewEditor.state.busy = true;
  });
  window.reviewEditor = window.ReviewEditor.start({ ...editorTask({ ...claimed, imageUrl: opened.imageUrl }), draft }, {
    submit: (answer) => send(page, async () => {
      await api.answer(name, answer);
      settled();
      const following = await goOn(api);
      return following ? "Saved. Opening the next task…" : "Saved. No tasks left.";
    }),
    release: () => send(page, async () => {
      await api.release(name);
      settled();
      const following = await goOn(api);
      return following ? "Skipped. Opening the next task…" : "Skipped. No other task is pending.";
    }),
  });
  if (draft) window.reviewEditor.announce("Your boxes from before the new sign-in are back: check them and submit.");
}

const page = await signedIn().catch((error) => {
  say(error.message);
  return null;
});
if (page) {
  showUser(page, $("user"));
  if (!name) say("No task named: open one from the list.");
  else await open(page);
}
