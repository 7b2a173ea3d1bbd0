// The board's cost figure: the watched run's tokens, estimated dollars and budget, with a
// warning at 80% and a stop at 100%. Kept apart from board.js, which calls HephCost.render.
(function () {
  "use strict";

  const KINDS = [
    ["input_tokens", "in"],
    ["output_tokens", "out"],
    ["cache_read_tokens", "cache read"],
    ["cache_write_tokens", "cache write"],
  ];

  function number(n) {
    return Number(n || 0).toLocaleString("en-US");
  }

  function span(cls, text) {
    const node = document.createElement("span");
    node.className = cls;
    node.textContent = text;
    return node;
  }

  function budgetText(cost) {
    const caps = [];
    if (cost.budget_tokens) caps.push(number(cost.budget_tokens) + " tokens");
    if (cost.budget_usd) caps.push("$" + Number(cost.budget_usd).toFixed(2));
    const used = Math.round(cost.budget_used * 100) + "% of " + caps.join(" / ");
    if (cost.budget_state === "over_budget") return "over budget (" + used + "): nothing new launches";
    if (cost.budget_state === "warning") return "budget warning: " + used;
    return "budget " + used;
  }

  function render(run) {
    const box = document.getElementById("cost");
    if (!box) return;
    const cost = run ? run.cost : null;
    const flags = run && run.run.paused ? [span("paused", "paused: nothing new launches")] : [];
    if (!cost && !flags.length) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    const parts = [...flags];
    if (cost) {
      const total = KINDS.reduce((sum, [key]) => sum + (cost[key] || 0), 0);
      const detail = KINDS.map(([key, label]) => label + " " + number(cost[key])).join(", ");
      const figure = span("cost-figure", number(total) + " tokens · ~$" + Number(cost.usd).toFixed(2));
      figure.title = detail + (cost.guardian ? "; Guardian ~$" + Number(cost.guardian.usd).toFixed(2) : "");
      parts.push(figure);
      if (cost.budget_state && cost.budget_state !== "none") {
        parts.push(span("budget budget-" + cost.budget_state, budgetText(cost)));
      }
    }
    box.dataset.budget = cost ? cost.budget_state : "none";
    box.replaceChildren(...parts);
    box.hidden = false;
  }

  window.HephCost = { render: render };
})();
