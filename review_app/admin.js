// The team overview, for the review-admins group (the API refuses everyone else): the queue, the
// budget spent, each reviewer's pace and quality, and the tasks an administrator may stop or free.
import { ApiError, age, holder, signedIn, showUser } from "./app.js";
import { SignInNeeded } from "./session.js";

const $ = (id) => document.getElementById(id);
const NONE = "—";

const number = (value, digits = 1) => (value === null || value === undefined ? NONE : Number(value).toFixed(digits));
const share = (value) => (value === null || value === undefined ? NONE : `${Math.round(value * 100)}%`);
const used = (window) => (window.limit ? `${window.used} of ${window.limit}` : `${window.used} (no limit)`);

function problem(text) {
  $("problem").textContent = text;
  $("problem").hidden = !text;
}

function row(...cells) {
  const tr = document.createElement("tr");
  for (const content of cells) {
    const td = document.createElement("td");
    td.append(content);
    tr.append(td);
  }
  return tr;
}

function showSummary(summary) {
  const { queue, budget, reviewers, gold } = summary;
  const goldProblem = gold && gold.problem;
  $("gold-problem").textContent = goldProblem ? `Gold tasks are off: ${goldProblem}` : "";
  $("gold-problem").hidden = !goldProblem;
  $("queue-open").textContent = String(queue.open);
  $("queue-claimed").textContent = String(queue.claimed);
  $("queue-oldest").textContent = queue.oldestCreatedAt ? age(queue.oldestCreatedAt) : NONE;
  $("budget-hour").textContent = used(budget.hour);
  $("budget-day").textContent = used(budget.day);
  $("budget-reviewer").textContent = budget.perReviewerDay ? String(budget.perReviewerDay) : "no limit";
  $("reviewers").tBodies[0].replaceChildren(...reviewers.map((r) => row(
    r.name || r.reviewer, String(r.tasks), number(r.tasksPerHour), number(r.medianSeconds, 0), share(r.changedShare),
    r.goldTasks ? `${share(r.goldScore)} of ${r.goldTasks}` : NONE, share(r.agreement))));
  $("reviewers").hidden = reviewers.length === 0;
  $("reviewers-empty").hidden = reviewers.length !== 0;
}

function actionButton(text, task, act) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = text;
  button.setAttribute("aria-label", `${text}: ${task.title || task.name}`);
  button.addEventListener("click", act);
  return button;
}

function showOpen(page, tasks) {
  $("open-tasks").tBodies[0].replaceChildren(...tasks.map((task) => {
    const actions = document.createElement("span");
    actions.className = "actions";
    const held = document.createElement("span");
    if (task.leaseOwner) {
      const { who, until } = task.claimedByYou ? { who: "you", until: holder(task).until } : holder(task);
      held.append(`${who} until `, until);
      actions.append(actionButton("Release", task, () => act(page, `${task.name} released`, () => page.api.adminRelease(task.name))));
    } else {
      held.textContent = NONE;
    }
    actions.append(actionButton("Stop", task, () => act(page, `${task.name} stopped`, () => page.api.stop(task.name))));
    const tr = row(task.title || task.name, age(task.createdAt), held, actions);
    tr.dataset.task = task.name;
    return tr;
  }));
  $("open-tasks").hidden = tasks.length === 0;
  $("open-empty").hidden = tasks.length !== 0;
}

async function act(page, done, work) {
  try {
    await work();
    $("action-status").textContent = `Done: ${done}.`;
  } catch (error) {
    if (error instanceof SignInNeeded) return page.session.signIn();
    $("action-status").textContent = `Not done: ${error.message}`;
  }
  await refresh(page);
}

async function exportCsv(page) {
  try {
    const blob = await page.api.adminSummaryCsv();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "review-team.csv";
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    $("export-status").textContent = "Exported.";
  } catch (error) {
    if (error instanceof SignInNeeded) return page.session.signIn();
    $("export-status").textContent = `Not exported: ${error.message}`;
  }
}

async function refresh(page) {
  try {
    const [summary, open] = await Promise.all([page.api.adminSummary(), page.api.tasks("InProgress")]);
    showSummary(summary);
    showOpen(page, open.tasks);
    $("overview").hidden = false;
    problem("");
  } catch (error) {
    if (error instanceof SignInNeeded) return page.session.signIn();
    problem(error instanceof ApiError && error.status === 403
      ? "The team overview is for the review-admins group; ask an administrator to add you."
      : `The overview cannot be loaded: ${error.message}`);
  }
  document.body.dataset.loaded = "true";
}

const page = await signedIn().catch((error) => {
  problem(error.message);
  return null;
});
if (page) {
  showUser(page, $("user"));
  $("export").addEventListener("click", () => exportCsv(page));
  await refresh(page);
}
