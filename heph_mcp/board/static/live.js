// The board's live view: a task's detail when its card is clicked, and each running agent's
// pane tail, kept current by the `panes` events of the board's one event stream (board.js
// announces the stream and each render). Pane text is agents' output: it goes into the page
// only through textContent, and the server has already stripped its escape sequences.
"use strict";

(function () {
  const tails = new Map(); // agent id -> {agent_id, task_id, run_id, text, at}
  const detail = { taskId: null, seq: 0, shown: "", loadedAt: 0 };
  const DETAIL_REFRESH_MS = 15000; // the diff stat moves without the task's card changing

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined && value !== false) node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // ---- pane tails ------------------------------------------------------------

  document.addEventListener("heph:source", (event) => {
    event.detail.addEventListener("panes", (message) => {
      for (const tail of JSON.parse(message.data).tails) tails.set(tail.agent_id, tail);
      showTails();
    });
  });

  function showTails() {
    for (const card of document.querySelectorAll("#agents article[data-agent-id]")) {
      const tail = tails.get(card.dataset.agentId);
      let pre = card.querySelector("pre.pane-tail");
      if (!pre) {
        pre = el("pre", { class: "pane-tail", "aria-label": "the end of the agent's pane" });
        card.append(pre);
      }
      const text = tail ? tail.text : "no output reported yet";
      if (pre.textContent !== text) {
        pre.textContent = text;
        pre.scrollTop = pre.scrollHeight;
      }
      pre.classList.toggle("empty", !tail);
      if (tail) pre.title = "captured " + new Date(tail.at * 1000).toLocaleTimeString();
    }
  }

  // ---- task detail -------------------------------------------------------------

  document.addEventListener("click", (event) => {
    if (event.target.closest("#task-detail")) return;
    const card = event.target.closest("#kanban .card[data-task-id], #graph .node[data-task-id]");
    if (!card || $("board-kind").textContent === "tickets") return;
    openDetail(card.getAttribute("data-task-id"));
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDetail();
  });

  // Every snapshot re-renders the board: put the tails back, and refresh an open detail when
  // its task's card changed (status, merge) or it is getting old. A busy run sends several
  // snapshots a second, and a detail renders the brief on the server.
  document.addEventListener("heph:rendered", () => {
    showTails();
    if (!detail.taskId) return;
    const changed = cardState(detail.taskId) !== detail.shown;
    if (changed || Date.now() - detail.loadedAt > DETAIL_REFRESH_MS) loadDetail(detail.taskId);
  });

  function cardState(taskId) {
    const card = document.querySelector(`#kanban .card[data-task-id="${CSS.escape(taskId)}"]`);
    return card ? card.dataset.status + "|" + (card.querySelector("[data-merge]")?.dataset.merge || "") : "";
  }

  function openDetail(taskId) {
    detail.taskId = taskId;
    $("task-detail").hidden = false;
    $("task-detail-body").replaceChildren(el("p", { class: "empty" }, "loading…"));
    loadDetail(taskId);
  }

  function closeDetail() {
    detail.taskId = null;
    $("task-detail").hidden = true;
  }

  async function loadDetail(taskId) {
    const seq = ++detail.seq;
    detail.shown = cardState(taskId);
    detail.loadedAt = Date.now();
    const response = await fetch("/board/api/tasks/" + encodeURIComponent(taskId), {
      credentials: "same-origin",
    });
    const body = response.headers.get("content-type")?.includes("json")
      ? await response.json()
      : { error: await response.text() };
    if (seq !== detail.seq || detail.taskId !== taskId) return; // a newer request or closed
    if (!response.ok) {
      $("task-detail-body").replaceChildren(el("p", { class: "error" }, body.error || response.statusText));
      return;
    }
    renderDetail(body);
  }

  function field(label, value, cls) {
    if (value === null || value === undefined || value === "") return null;
    return el("div", { class: "detail-field " + (cls || "") },
      el("h4", {}, label), el("div", { class: "detail-text" }, value));
  }

  function renderDetail(body) {
    const task = body.task;
    const open = $("task-detail").querySelector("details.brief")?.open || false;
    $("task-detail-body").replaceChildren(...[
      el("h3", { class: "detail-title" }, task.title),
      el("p", { class: "agent-meta" },
        `${task.id} · ${task.status} · phase ${task.phase}. ${task.phase_name} · ${task.priority}`,
        task.attempts ? ` · attempt ${task.attempts}` : ""),
      field("Description", task.description, "description"),
      field("Summary", task.summary, "summary"),
      field("Failure reason", task.failure_reason, "failure"),
      field("Sent back", task.feedback, "feedback"),
      field("Merge", mergeText(task), "merge-outcome"),
      body.diffstat
        ? el("div", { class: "detail-field diffstat" }, el("h4", {}, `Diff against ${body.diffstat.base}`),
            el("pre", {}, body.diffstat.text || "no changes"))
        : field("Diff", "not reported yet", "diffstat"),
      guidanceList(body.guidance),
      body.brief
        ? el("details", { class: "brief", open: open }, el("summary", {}, "Brief"), el("pre", {}, body.brief))
        : null,
    ].filter((part) => part !== null));
  }

  function mergeText(task) {
    if (!task.merge_state) return null;
    let text = task.merge_state.replace("_", " ");
    if (task.merge_commit) text += ` at ${task.merge_commit.slice(0, 12)}`;
    const check = task.merge_check;
    if (check) text += ` · check \`${check.command}\` exited ${check.exit_status}`;
    return text;
  }

  function guidanceList(guidance) {
    if (!guidance.length) return field("Guidance received", "none");
    return el("div", { class: "detail-field guidance" }, el("h4", {}, "Guidance received"),
      el("ul", {}, ...guidance.map((g) =>
        el("li", { class: "severity-" + g.severity },
          el("span", { class: "agent-meta" },
            `${g.created_at || ""} from ${g.source}` +
            (g.delivered_via ? ` (delivered by ${g.delivered_via})` : " (pending)") + " "),
          g.text))));
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("task-detail-close").addEventListener("click", closeDetail);
  });
})();
