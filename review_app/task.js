// The task page: the next task from the service (or one named in the address), the shared editor on it,
// and after each answer the next task swapped in place, its image fetched while the reviewer works.
import { ApiError, available, holder, signedIn, showUser } from "./app.js";
import { SignInNeeded } from "./session.js";

const $ = (id) => document.getElementById(id);
const SKIPPED_KEY = "hitl-review.skipped";
const draftKey = (name) => `hitl-review.draft:${name}`;
const LEASE_RETRY_MS = 5_000;

let page = null;
let editorMarkup = null;
let current = null; // the task on screen: { name, task, editor, holding, timer, done }
let leavingForSignIn = false;
let prefetched = null; // { name, imageUrl, until }: the next task's image, already in the browser

// ---- what the page shows ----------------------------------------------------------------------

function clearTask() {
  if (current) {
    clearTimeout(current.timer);
    current.editor?.stop();
    current.done = true;
  }
  current = null;
  window.reviewEditor = null;
  $("workspace").replaceChildren();
  $("lease").hidden = true;
  $("message").hidden = true;
}

// A message in place of the task; `more` are nodes after the text (a <time>, a link).
function say(text, ...more) {
  clearTask();
  $("message-text").replaceChildren(text, ...more);
  $("message").hidden = false;
  $("next-link").hidden = !page;
  document.body.classList.remove("task-page");
  document.body.dataset.state = "message";
}

function sayTaken(task) {
  const { who, until } = holder(task);
  say(`${who} is working on this task until `, until, ". It comes back when they hand it back or their time runs out.");
}

function heading(task) {
  $("task-title").textContent = task?.title || task?.name || "Review";
  $("task-name").textContent = task?.name || "";
  document.title = `${task?.title || task?.name || "Next task"} · review`;
}

function address(name) {
  const url = new URL(window.location.href);
  url.search = name ? new URLSearchParams({ name }).toString() : "";
  if (url.href !== window.location.href) window.history.pushState({ name }, "", url.href);
}

// ---- session-wide state: skipped tasks, boxes kept through a new sign-in ---------------------

const skipped = () => JSON.parse(sessionStorage.getItem(SKIPPED_KEY) || "[]");

function rememberSkip(name) {
  sessionStorage.setItem(SKIPPED_KEY, JSON.stringify([...skipped().filter((n) => n !== name), name]));
}

function keepDraft() {
  const editor = current?.editor;
  if (!editor || current.done || current.readOnly) return;
  const boxes = editor.state.boxes.map(({ label, left, top, width, height, score, initial }) =>
    ({ label, left, top, width, height, score, initial }));
  sessionStorage.setItem(draftKey(current.name), JSON.stringify({ boxes }));
}

function takeDraft(name) {
  return JSON.parse(sessionStorage.getItem(draftKey(name)) || "null")?.boxes ?? null;
}

// ---- the lease: renewed while the page is open, retried through failures, never lost silently --

function leaseNote(...parts) {
  $("lease-text").replaceChildren(...parts);
  $("lease").hidden = false;
}

function keepLease(run, expiresAt) {
  const delay = Math.max((expiresAt - Date.now()) / 2, 1_000);
  run.timer = setTimeout(() => renewLease(run, expiresAt), delay);
}

async function renewLease(run, expiresAt) {
  if (run.done) return;
  try {
    const lease = await page.api.claim(run.name);
    if (run.done) return;
    $("lease").hidden = true;
    keepLease(run, Date.parse(lease.leaseExpiresAt));
  } catch (error) {
    if (run.done) return;
    if (error instanceof SignInNeeded) return page.session.signIn();
    if (error instanceof ApiError && error.status === 409) return leaseLost(run);
    if (Date.now() > expiresAt) {
      leaseNote("Your hold on this task may have run out: the review service cannot be reached. " +
        "Your boxes are kept here; renewing again…");
    }
    run.timer = setTimeout(() => renewLease(run, expiresAt), LEASE_RETRY_MS);
  }
}

// Someone else holds the task now: the boxes stay, the page says who and until when.
async function leaseLost(run) {
  run.holding = false;
  let task = run.task;
  try {
    task = await page.api.task(run.name);
  } catch {
    // say it with what is known
  }
  if (run.done) return;
  if (task.status !== "InProgress") {
    leaseNote(`This task is ${task.status} now; your boxes cannot be submitted.`);
    return;
  }
  const { who, until } = holder(task);
  leaseNote("Your hold on this task ran out and ", `${who} is working on it until `, until,
    ". Your boxes are kept here: submit when it is free again.");
}

// ---- submit, skip, next --------------------------------------------------------------------

// The answer; a lost lease is claimed again first when the task is still free.
async function submitAnswer(run, answer) {
  try {
    await page.api.answer(run.name, answer);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 409 && (await claimAgain(run)))) throw error;
    await page.api.answer(run.name, answer);
  }
  run.done = true;
  sessionStorage.removeItem(draftKey(run.name));
}

async function claimAgain(run) {
  try {
    await page.api.claim(run.name);
    run.holding = true;
    $("lease").hidden = true;
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) await leaseLost(run);
    else throw error;
    return false;
  }
}

// Hand the work to the API; an ended sign-in keeps the boxes and comes back here after signing in.
async function send(work) {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof SignInNeeded)) throw error;
    await page.session.signIn();
    return "Your sign-in has ended: sign in again; your boxes are kept for this task.";
  }
}

async function openNext() {
  let next;
  try {
    next = await page.api.next(skipped());
  } catch (error) {
    if (error instanceof SignInNeeded) return page.session.signIn();
    return say(`The next task cannot be fetched: ${error.message}`);
  }
  if (!next.task) {
    heading(null);
    address(null);
    sessionStorage.removeItem(SKIPPED_KEY);
    return say(next.budgetSpent
      ? "The review budget for now is spent: no task is waiting for you until it refills."
      : "No task is waiting for you. New tasks come when the model is unsure about an image.");
  }
  address(next.task.name);
  await show(next.task, true);
}

async function moveOn(run, word) {
  clearTask();
  $("message-text").textContent = `${word} Opening the next task…`;
  await openNext();
  return word;
}

// ---- showing a task ------------------------------------------------------------------------

function editorTask(task, readOnly, shownValue) {
  const content = task.inputContent;
  const ahead = prefetched?.name === task.name && Date.now() < prefetched.until ? prefetched.imageUrl : null;
  return {
    name: task.name,
    labels: content.labels ?? [],
    initialValue: content.initialValue ?? null,
    initialScores: content.initialScores ?? [],
    imageSize: content.imageSize ?? null,
    imageUrl: ahead || task.imageUrl,
    readOnly,
    shownValue,
  };
}

// A completed task's recorded boxes (this reviewer's answer, else the latest), or null without answers.
function answeredBoxes(task) {
  const answers = task.answers ?? [];
  return (answers.find((answer) => answer.byYou) ?? answers.at(-1))?.boundingBoxes ?? null;
}

async function show(task, claimed) {
  clearTask();
  heading(task);
  const finished = task.status !== "InProgress" || task.answeredByYou;
  const recorded = finished ? answeredBoxes(task) : null;
  if (finished && !recorded) {
    return say(task.answeredByYou ? "You have answered this task; it waits for other reviewers."
      : `This task is ${task.status}: there is nothing left to review here.`);
  }
  let lease = task;
  if (!finished && !claimed) {
    if (task.leaseOwner && !task.claimedByYou) return sayTaken(task);
    try {
      lease = await page.api.claim(task.name);
    } catch (error) {
      if (error instanceof SignInNeeded) return page.session.signIn();
      if (error instanceof ApiError && error.status === 409) return sayTaken(await page.api.task(task.name));
      return say(error.message);
    }
  }
  editorMarkup ??= await (await fetch("editor.html")).text();
  document.body.classList.add("task-page");
  document.body.dataset.state = "task";
  $("workspace").innerHTML = editorMarkup;
  const run = { name: task.name, task, editor: null, holding: !finished, timer: null, done: finished, readOnly: finished };
  current = run;
  const draft = finished ? null : takeDraft(task.name);
  run.editor = window.ReviewEditor.start({ ...editorTask(task, finished, recorded), draft }, finished ? {} : {
    submit: (answer) => send(async () => {
      await submitAnswer(run, answer);
      return moveOn(run, "Saved.");
    }),
    release: () => send(async () => {
      rememberSkip(run.name);
      run.done = true;
      sessionStorage.removeItem(draftKey(run.name));
      await page.api.release(run.name).catch(() => page.api.releaseOnLeave(run.name));
      return moveOn(run, "Skipped.");
    }),
  });
  window.reviewEditor = run.editor;
  if (finished) {
    run.editor.announce("This task is finished: its recorded answer is shown; it cannot be changed.");
    return;
  }
  if (draft) run.editor.announce("Your boxes from before the new sign-in are back: check them and submit.");
  keepLease(run, Date.parse(lease.leaseExpiresAt));
  lookAhead(task.name);
}

// The task likely to come next (the oldest open one this reviewer may take, skipped ones last) and
// its image, fetched now so it shows at once; the queue's size (its first page) for the header.
async function lookAhead(name) {
  try {
    const first = await page.api.firstTasks("InProgress"); // one page: enough to guess the next task
    const open = first.tasks.filter(available);
    if (current?.name !== name) return;
    $("queue-place").textContent = `${open.length}${first.nextToken ? "+" : ""} open for you`;
    const later = new Set(skipped());
    const others = open.filter((task) => task.name !== name);
    const following = others.find((task) => !later.has(task.name)) ?? others[0];
    if (!following) return;
    const task = await page.api.task(following.name);
    if (!task.imageUrl) return;
    const lifetimeMs = (task.imageUrlExpiresIn ?? 300) * 1000;
    prefetched = { name: task.name, imageUrl: task.imageUrl, until: Date.now() + lifetimeMs / 2 };
    new Image().src = task.imageUrl;
  } catch {
    // only a head start: the next task loads as usual without it
  }
}

async function openFromAddress() {
  const name = new URLSearchParams(window.location.search).get("name");
  if (!name) return openNext();
  let task;
  try {
    task = await page.api.task(name);
  } catch (error) {
    if (error instanceof SignInNeeded) return page.session.signIn();
    return say(error instanceof ApiError && error.status === 404 ? `There is no task named ${name}.` : error.message);
  }
  await show(task, false);
}

// A task held when the page goes away (closed, another page, the list) is handed back at once;
// not when the page leaves to sign in again, which brings the reviewer back to it.
window.addEventListener("pagehide", () => {
  keepDraft();
  if (current && current.holding && !current.done && !leavingForSignIn) {
    page.api.releaseOnLeave(current.name);
    current.holding = false;
  }
});
window.addEventListener("pageshow", (event) => {
  if (event.persisted && page) openFromAddress();
});
window.addEventListener("popstate", () => {
  if (current?.holding && !current.done) page.api.release(current.name).catch(() => {});
  if (page) openFromAddress();
});

page = await signedIn().catch((error) => {
  say(error.message);
  return null;
});
if (page) {
  showUser(page, $("user"));
  $("lease-claim").addEventListener("click", () => current?.editor?.submit());
  page.session.beforeSignIn(() => {
    leavingForSignIn = true;
    keepDraft();
    // The boxes are kept: leave without the unsaved-work prompt.
    if (current?.editor) current.editor.state.busy = true;
  });
  await openFromAddress();
}
