// The Hephaestus board: renders the snapshots the server streams at /board/events.
// Read-only. Agents write the titles, summaries and memories shown here, so every
// text goes into the page through textContent (never innerHTML): markup stays text.
"use strict";

(function () {
  const state = { snapshot: null, runId: null, source: null };
  const SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    setAttrs(node, attrs);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(key, String(value));
    }
  }

  function clip(text, n) {
    text = String(text || "");
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }

  function $(id) {
    return document.getElementById(id);
  }

  // ---- live feed -----------------------------------------------------------

  function connect() {
    const source = new EventSource("/board/events");
    state.source = source;
    document.dispatchEvent(new CustomEvent("heph:source", { detail: source })); // live.js
    source.addEventListener("snapshot", (event) => {
      state.snapshot = JSON.parse(event.data);
      setLive("live", "live");
      render();
    });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gives up on a refused stream (401/403): say how to get back in.
        setLive("closed", "disconnected");
        checkAccess();
      } else {
        setLive("reconnecting", "reconnecting…");
      }
    };
  }

  async function checkAccess() {
    const response = await fetch("/board/api/snapshot", { credentials: "same-origin" });
    if (response.status === 401 || response.status === 403) {
      showNotice(await response.text());
    } else {
      setTimeout(connect, 2000);
    }
  }

  function setLive(stateName, label) {
    const live = $("live");
    live.dataset.state = stateName;
    live.textContent = label;
  }

  function showNotice(text) {
    const notice = $("notice");
    notice.textContent = text;
    notice.hidden = !text;
  }

  // ---- rendering -------------------------------------------------------------

  function currentRun() {
    const runs = state.snapshot ? state.snapshot.runs : [];
    if (!runs.length) return null;
    const chosen = runs.find((r) => r.run.id === state.runId);
    if (chosen) return chosen;
    // Default: the newest active run, else the newest run.
    const active = runs.filter((r) => r.run.status === "active");
    return (active.length ? active : runs)[(active.length ? active : runs).length - 1];
  }

  function render() {
    const run = currentRun();
    state.runId = run ? run.run.id : null;
    renderRunPicker();
    renderQueue();
    if (window.HephCost) window.HephCost.render(run);
    if (!run) {
      $("run-info").textContent = "No runs yet: start one from your MCP client with start_workflow.";
      for (const id of ["kanban", "graph", "questions", "agents", "steers", "merges"]) {
        $(id).replaceChildren();
      }
      return;
    }
    $("run-info").replaceChildren(
      el("span", { class: "run-status run-" + run.run.status }, run.run.status),
      " ",
      el("span", { class: "workflow" }, run.run.workflow),
      " ",
      el("span", { class: "goal", title: run.run.goal }, clip(run.run.goal, 120)),
      run.run.awaiting_merges
        ? el("span", { class: "awaiting" }, " · completes when its missing work lands")
        : "",
    );
    renderKanban(run);
    renderGraph(run);
    renderQuestions(run);
    renderAgents(run);
    renderSteers(run);
    renderMerges(run);
    document.dispatchEvent(new CustomEvent("heph:rendered")); // live.js
  }

  // What agents asked that their policy left to the user. The board is read-only: the
  // answer goes through MCP (answer_question), so the page only says what waits and until when.
  function renderQuestions(run) {
    const questions = run.questions || [];
    if (!questions.length) {
      $("questions").replaceChildren(el("p", { class: "empty" }, "none waiting"));
      return;
    }
    $("questions").replaceChildren(
      el("ul", { class: "questions" },
        ...questions.map((q) =>
          el("li", { "data-question-id": q.id },
            el("code", {}, q.id), ` ${q.agent_id} on ${q.task_id} asks `,
            el("strong", {}, q.tool), ": ", q.subject,
            el("div", { class: "agent-meta" },
              `answer with answer_question before ${q.expires_at || "?"}, or it is denied`)))),
    );
  }

  function renderRunPicker() {
    const select = $("run-select");
    const runs = state.snapshot ? state.snapshot.runs : [];
    select.replaceChildren(
      ...runs
        .slice()
        .reverse()
        .map((r) =>
          el(
            "option",
            { value: r.run.id, selected: r.run.id === state.runId },
            `${r.run.id} · ${r.run.workflow} · ${clip(r.run.goal, 40)} (${r.run.status})`,
          ),
        ),
    );
    select.disabled = runs.length < 2;
  }

  function renderKanban(run) {
    $("board-kind").textContent = run.board.kind === "tasks" ? "tasks by status" : "tickets";
    const columns = run.board.columns.map((column) =>
      el(
        "div",
        { class: "column", "data-column": column.key },
        el("h3", {}, column.title, " ", el("span", { class: "count" }, column.tasks.length)),
        ...column.tasks.map(card),
      ),
    );
    $("kanban").replaceChildren(...columns);
  }

  function card(task) {
    return el(
      "article",
      { class: "card status-" + task.status, "data-task-id": task.id, "data-status": task.status },
      el("div", { class: "card-title" }, task.title),
      el(
        "div",
        { class: "card-meta" },
        task.type // a ticket: its type and whether it waits on another
          ? el("span", { class: "phase" }, task.type + (task.blocked ? " · blocked" : ""))
          : el("span", { class: "phase" }, `${task.phase}. ${task.phase_name}`),
        el("span", { class: "priority priority-" + task.priority }, task.priority),
        task.status === "claimed" || task.status === "cancelled"
          ? el("span", { class: "substatus" }, task.status)
          : null,
        task.merge_state
          ? el("span", { class: "merge merge-" + task.merge_state, "data-merge": task.merge_state },
              "merge: " + task.merge_state.replace("_", " "))
          : null,
        el("code", {}, task.id),
      ),
    );
  }

  function renderGraph(run) {
    const nodes = run.graph.nodes;
    const container = $("graph");
    if (!nodes.length) {
      container.replaceChildren(el("p", { class: "empty" }, "no tasks"));
      return;
    }
    const W = 220, H = 46, GAP_X = 70, GAP_Y = 14, TOP = 30;
    const pos = {};
    const rows = {};
    for (const node of nodes) {
      const row = rows[node.phase] || 0;
      rows[node.phase] = row + 1;
      pos[node.id] = { x: 10 + (node.phase - 1) * (W + GAP_X), y: TOP + row * (H + GAP_Y) };
    }
    const width = 20 + run.phases.length * (W + GAP_X);
    const height = TOP + Math.max(1, ...Object.values(rows)) * (H + GAP_Y) + 10;
    const root = svg("svg", {
      width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "task graph",
    });
    const defs = svg("defs");
    for (const kind of ["spawn", "discovery", "dependency"]) {
      const marker = svg("marker", {
        id: "arrow-" + kind, viewBox: "0 0 10 10", refX: 10, refY: 5,
        markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
      });
      marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow " + kind }));
      defs.append(marker);
    }
    root.append(defs);
    for (const phase of run.phases) {
      root.append(
        svg("text", { x: 10 + (phase.id - 1) * (W + GAP_X), y: 18, class: "phase-label" },
          `${phase.id}. ${phase.name}`),
      );
    }
    for (const edge of run.graph.edges) {
      const a = pos[edge.from], b = pos[edge.to];
      if (!a || !b) continue;
      const kind = edge.dependency ? "dependency" : edge.discovery ? "discovery" : "spawn";
      let d;
      if (b.x > a.x) {
        const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
        d = `M ${x1} ${y1} C ${x1 + 35} ${y1}, ${x2 - 35} ${y2}, ${x2} ${y2}`;
      } else if (b.x < a.x) {
        // Back into an earlier phase: leave from the left, arrive at the right.
        const x1 = a.x, y1 = a.y + H / 2, x2 = b.x + W, y2 = b.y + H / 2;
        d = `M ${x1} ${y1} C ${x1 - 35} ${y1}, ${x2 + 35} ${y2}, ${x2} ${y2}`;
      } else {
        const x = a.x + W, y1 = a.y + H / 2, y2 = b.y + H / 2;
        d = `M ${x} ${y1} C ${x + 40} ${y1}, ${x + 40} ${y2}, ${x} ${y2}`;
      }
      root.append(svg("path", { d, class: "edge " + kind, "marker-end": `url(#arrow-${kind})` }));
    }
    for (const node of nodes) {
      const p = pos[node.id];
      const group = svg("g", {
        class: "node status-" + node.status + (node.discovery ? " discovery" : ""),
        "data-task-id": node.id,
        transform: `translate(${p.x} ${p.y})`,
      });
      group.append(svg("title", {}, `${node.title}\n${node.id} · ${node.status}` +
        (node.discovery ? "\ndiscovery branch: created in an earlier phase than its parent" : "")));
      group.append(svg("rect", { width: W, height: H, rx: 6 }));
      group.append(svg("text", { x: 8, y: 18, class: "node-title" }, clip(node.title, 30)));
      group.append(svg("text", { x: 8, y: 36, class: "node-meta" },
        `${node.status} · ${node.id}${node.discovery ? " · discovery" : ""}`));
      root.append(group);
    }
    container.replaceChildren(root);
  }

  function renderAgents(run) {
    if (!run.agents.length) {
      $("agents").replaceChildren(el("p", { class: "empty" }, "no running agents"));
      return;
    }
    $("agents").replaceChildren(
      ...run.agents.map((agent) => {
        const note = agent.guardian;
        return el(
          "article",
          { class: "agent" + (note ? " guardian-" + note.state : ""), "data-agent-id": agent.id },
          el("div", { class: "agent-head" },
            el("code", {}, agent.id), " on ", el("code", {}, agent.task_id), " ",
            el("span", { class: "agent-task" }, agent.task_title)),
          el("div", { class: "agent-meta" },
            `tmux ${agent.session_name}` + (agent.started_at ? ` · since ${agent.started_at}` : "")),
          note
            ? el("div", { class: "guardian" },
                el("span", { class: "state" }, guardianState(note)),
                " ", el("span", { class: "summary" }, note.summary),
                note.steering ? el("div", { class: "steering" }, "steered: ", note.steering) : null,
                el("div", { class: "agent-meta" }, `${note.judge} · ${note.at || ""}`))
            : el("div", { class: "guardian empty" }, "no Guardian note yet"),
        );
      }),
    );
  }

  // An agent held by a dialog cannot work at all: its alignment means nothing, and only
  // a person can answer the dialog (the summary quotes it).
  function guardianState(note) {
    if (note.state === "blocked_on_dialog") return "needs you:";
    return `${note.state} (${Number(note.alignment).toFixed(1)})`;
  }

  function renderSteers(run) {
    if (!run.steers.length) {
      $("steers").replaceChildren(el("p", { class: "empty" }, "none"));
      return;
    }
    $("steers").replaceChildren(
      el("ul", { class: "steers" },
        ...run.steers.map((s) =>
          el("li", { class: "severity-" + s.severity },
            el("span", { class: "agent-meta" },
              `${s.at || ""} → ${s.agent_id} from ${s.source} (${s.delivered_via || "pending"}) `),
            s.text))),
    );
  }

  function renderQueue() {
    const queue = (state.snapshot && state.snapshot.queue) || { counts: {}, next: [] };
    const counts = Object.entries(queue.counts);
    // replaceChildren turns a null into the text "null": pass only what is there.
    $("queue").replaceChildren(...[
      counts.length
        ? el("p", { class: "queue-counts" },
            ...counts.map(([status, n]) =>
              el("span", { class: "pill status-" + status, "data-status": status }, `${status} ${n}`)))
        : el("p", { class: "empty" }, "nothing open in active runs"),
      queue.next.length
        ? el("ol", { class: "queue" },
            ...queue.next.map((task) =>
              el("li", { "data-task-id": task.id },
                el("span", { class: "priority priority-" + task.priority }, task.priority), " ",
                task.title, " ",
                el("code", {}, `${task.run_id} · ${task.phase}. ${task.phase_name}`))))
        : null,
    ].filter((part) => part !== null));
  }

  // The run's merge queue in order, the done work still missing from its branch, and the
  // latest requests to land it on the user's branch.
  function renderMerges(run) {
    const merges = run.merges || { queue: [], missing: [], landings: [] };
    const queued = new Set(merges.queue.map((m) => m.task_id));
    const missing = merges.missing.filter((w) => !queued.has(w.task_id));
    const parts = [];
    if (merges.queue.length) {
      parts.push(el("ol", { class: "merge-queue" },
        ...merges.queue.map((m) =>
          el("li", { "data-task-id": m.task_id, "data-merge": m.state },
            el("span", { class: "merge merge-" + m.state }, m.state), " ",
            m.title, " ", el("code", {}, m.task_id)))));
    }
    if (missing.length) {
      parts.push(el("ul", { class: "merge-missing" },
        ...missing.map((w) =>
          el("li", { "data-task-id": w.task_id },
            el("span", { class: "merge merge-" + (w.merge_state || "none") },
              (w.merge_state || "not queued").replace("_", " ")),
            " missing: ", w.title, " ", el("code", {}, w.task_id)))));
    }
    for (const land of merges.landings.slice(0, 1)) {
      parts.push(el("p", { class: "landing land-" + land.state }, `land ${land.state}: ${land.message}`));
    }
    $("merges").replaceChildren(
      ...(parts.length ? parts : [el("p", { class: "empty" }, "nothing waiting to merge")]),
    );
  }

  // ---- memory search -------------------------------------------------------

  async function searchMemory(event) {
    event.preventDefault();
    const query = $("memory-query").value.trim();
    if (!query) return;
    const params = new URLSearchParams({ q: query });
    if (!$("memory-all").checked && state.runId) params.set("run", state.runId);
    const results = $("memory-results");
    results.replaceChildren(el("p", { class: "empty" }, "searching…"));
    const response = await fetch("/board/api/memories?" + params, { credentials: "same-origin" });
    const body = response.headers.get("content-type")?.includes("json")
      ? await response.json()
      : { error: await response.text() };
    if (!response.ok) {
      results.replaceChildren(el("p", { class: "error" }, body.error || response.statusText));
      return;
    }
    results.replaceChildren(
      body.hits.length
        ? el("ol", { class: "memories" },
            ...body.hits.map((hit) =>
              el("li", { class: "memory" },
                el("span", { class: "memory-type" }, hit.memory.type), " ",
                el("span", { class: "score" }, hit.score.toFixed(2)), " ",
                el("span", { class: "memory-content" }, hit.memory.content),
                hit.memory.tags.length ? el("span", { class: "tags" }, " #" + hit.memory.tags.join(" #")) : null)))
        : el("p", { class: "empty" }, "no memories match"),
    );
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("run-select").addEventListener("change", (event) => {
      state.runId = event.target.value;
      render();
    });
    $("memory-form").addEventListener("submit", searchMemory);
    connect();
  });
})();
