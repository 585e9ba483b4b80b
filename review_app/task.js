// The task page: claim the task, run the shared editor on it, submit or hand it back through the API.
import { ApiError, available, signedIn, showUser } from "./app.js";

const $ = (id) => document.getElementById(id);
const name = new URLSearchParams(window.location.search).get("name") || "";

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

// Renew the lease at half its remaining time while the page is open.
function keepLease(api, task) {
  const remaining = Date.parse(task.leaseExpiresAt) - Date.now();
  if (!(remaining > 0)) return;
  setTimeout(async () => {
    try {
      keepLease(api, await api.claim(name));
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) say(taken);
    }
  }, remaining / 2);
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

async function open(session) {
  const { api } = session;
  let opened;
  try {
    opened = await api.task(name);
  } catch (error) {
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
    return say(error instanceof ApiError && error.status === 409 ? taken : error.message);
  }
  const markup = await fetch("editor.html");
  $("workspace").innerHTML = await markup.text();
  const pending = (await api.tasks("InProgress")).tasks.filter(available);
  const place = pending.findIndex((item) => item.name === name);
  $("queue-place").textContent = place >= 0 ? `${place + 1} of ${pending.length} pending` : "";
  keepLease(api, claimed);
  window.reviewEditor = window.ReviewEditor.start(editorTask({ ...claimed, imageUrl: opened.imageUrl }), {
    async submit(answer) {
      await api.answer(name, answer);
      const following = await goOn(api);
      return following ? "Saved. Opening the next task…" : "Saved. No tasks left.";
    },
    async release() {
      await api.release(name);
      const following = await goOn(api);
      return following ? "Skipped. Opening the next task…" : "Skipped. No other task is pending.";
    },
  });
}

const session = await signedIn().catch((error) => {
  say(error.message);
  return null;
});
if (session) {
  showUser(session, $("user"));
  if (!name) say("No task named: open one from the list.");
  else await open(session);
}
