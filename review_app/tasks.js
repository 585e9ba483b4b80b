// The task list, for browsing: every open task oldest first (who holds each, until when), and the
// recently completed ones. The daily path is "Start reviewing" (task.html gives the next task).
import { age, available, holder, isAdmin, signedIn, showUser } from "./app.js";
import { SignInNeeded } from "./session.js";

const REFRESH_MS = 15_000;
const COMPLETED_SHOWN = 20;
const $ = (id) => document.getElementById(id);

function cell(...children) {
  const td = document.createElement("td");
  td.append(...children);
  return td;
}

function taskCell(task, link) {
  const title = document.createElement(link ? "a" : "span");
  title.className = "name";
  title.textContent = task.title || task.name;
  if (link) title.href = `task.html?name=${encodeURIComponent(task.name)}`;
  const loop = document.createElement("div");
  loop.className = "loop";
  loop.textContent = task.name;
  return cell(title, loop);
}

function state(task) {
  const span = document.createElement("span");
  span.className = "state";
  if (task.answeredByYou) {
    span.classList.add("done");
    span.textContent = `answered by you (${task.answerCount} of ${task.taskCount})`;
  } else if (task.claimedByYou) {
    span.classList.add("yours");
    span.textContent = "claimed by you";
  } else if (task.leaseOwner) {
    span.classList.add("taken");
    const { who, until } = holder(task);
    span.append(`taken by ${who === "Another reviewer" ? "another reviewer" : who} until `, until);
  } else {
    span.textContent = task.taskCount > 1 ? `open (${task.answerCount} of ${task.taskCount} answers)` : "open";
  }
  return span;
}

// New rows in place of the old; the focused task's link (or row) keeps the focus.
function fill(tableId, emptyId, rows) {
  const body = $(tableId).tBodies[0];
  const focusedRow = document.activeElement?.closest?.(`#${tableId} tr[data-task]`);
  const wasLink = document.activeElement?.localName === "a";
  body.replaceChildren(...rows);
  const again = focusedRow && rows.find((row) => row.dataset.task === focusedRow.dataset.task);
  const target = again && (wasLink ? again.querySelector("a") : null);
  if (target) target.focus();
  $(tableId).hidden = rows.length === 0;
  $(emptyId).hidden = rows.length !== 0;
}

async function refresh(page) {
  try {
    const [open, completed] = await Promise.all([
      page.api.tasks("InProgress"),
      page.api.tasks("Completed"),
    ]);
    fill("pending", "pending-empty", open.tasks.map((task) => {
      const row = document.createElement("tr");
      row.dataset.task = task.name;
      row.append(taskCell(task, available(task)), cell(age(task.createdAt)), cell(state(task)));
      return row;
    }));
    fill("completed", "completed-empty", completed.tasks.slice(0, COMPLETED_SHOWN).map((task) => {
      const row = document.createElement("tr");
      row.dataset.task = task.name;
      row.append(taskCell(task, false), cell(age(task.createdAt)), cell(`${task.answerCount}`));
      return row;
    }));
    $("pending-count").textContent = `${open.tasks.filter(available).length} for you`;
    $("problem").hidden = true;
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  } catch (error) {
    if (error instanceof SignInNeeded) return page.session.signIn();
    $("problem").textContent = `The tasks cannot be loaded: ${error.message}`;
    $("problem").hidden = false;
  }
  document.body.dataset.loaded = "true";
}

const page = await signedIn().catch((error) => {
  $("problem").textContent = error.message;
  $("problem").hidden = false;
  return null;
});
if (page) {
  showUser(page, $("user"));
  $("admin-link").hidden = !isAdmin(page);
  await refresh(page);
  setInterval(() => refresh(page), REFRESH_MS);
}
