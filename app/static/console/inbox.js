// The live inbox: the approvalQueue subscription (snapshot, then each change) with its filters,
// age and deadline countdown, quorum progress, keyboard navigation, and bulk decisions in one
// decideExecutionSteps request.

import { h, fill, age, countdown, tierBadge, firstError } from "./util.js";

const TIERS = ["low", "medium", "high", "critical"];
const KEY_HELP =
  "Keys: ↑/↓ or j/k move between steps, Enter opens the review, e the execution, x or Space selects a step, Home/End jump.";

export class InboxPage extends HTMLElement {
  setup(api, viewer) {
    this.api = api;
    this.viewer = viewer;
    this.items = new Map(); // stepId -> item
    this.rows = new Map(); // stepId -> <tr>
    this.selected = new Set();
    this.workspaces = new Set(viewer.allWorkspaces ? [] : viewer.workspaces);
    this.filters = { workspaceId: "", riskTier: "", decidableByMe: false };
    this.loaded = false;
    this.unsubscribe = null;
    this.ticker = null;
  }

  connectedCallback() {
    this.render();
    this.start();
    this.ticker = window.setInterval(() => this.tick(), 1000);
  }

  disconnectedCallback() {
    this.stop();
  }

  stop() {
    if (this.unsubscribe) this.unsubscribe();
    this.unsubscribe = null;
    if (this.stopStatus) this.stopStatus();
    this.stopStatus = null;
    if (this.ticker) window.clearInterval(this.ticker);
    this.ticker = null;
  }

  render() {
    this.workspaceSelect = h("select", { id: "filter-workspace", name: "workspace", onChange: () => this.refilter() });
    this.fillWorkspaces();
    this.tierSelect = h(
      "select",
      { id: "filter-tier", name: "tier", onChange: () => this.refilter() },
      h("option", { value: "" }, "Any tier"),
      TIERS.map((tier) => h("option", { value: tier }, tier))
    );
    this.mineBox = h("input", { type: "checkbox", id: "filter-mine", name: "mine", onChange: () => this.refilter() });
    this.live = h("p", { class: "live-status", role: "status", "aria-live": "polite", "data-testid": "inbox-status" }, "Connecting…");
    this.allBox = h("input", {
      type: "checkbox",
      id: "select-all",
      "aria-label": "Select every step shown",
      onChange: () => this.selectAll(this.allBox.checked),
    });
    this.body = h("tbody", { onKeydown: (event) => this.key(event) });
    this.empty = h("p", { class: "empty", hidden: true }, "Nothing awaits a decision here.");
    this.bulk = this.renderBulk();
    this.results = h("section", { class: "bulk-results", "aria-labelledby": "bulk-results-title", hidden: true });
    fill(
      this,
      h("h1", {}, "Inbox"),
      h(
        "form",
        { class: "filters", "aria-label": "Filters", onSubmit: (event) => event.preventDefault() },
        h("div", { class: "field" }, h("label", { for: "filter-workspace" }, "Workspace"), this.workspaceSelect),
        h("div", { class: "field" }, h("label", { for: "filter-tier" }, "Risk tier"), this.tierSelect),
        h("div", { class: "field checkbox" }, this.mineBox, h("label", { for: "filter-mine" }, "Decidable by me"))
      ),
      this.live,
      h("p", { class: "help", id: "inbox-keys" }, KEY_HELP),
      h(
        "table",
        { class: "inbox", "aria-describedby": "inbox-keys", "data-testid": "inbox" },
        h("caption", { class: "visually-hidden" }, "Steps awaiting a decision"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, this.allBox),
            ["Step", "Workspace", "Tier", "Execution", "Waiting", "Deadline", "Approvals", "You"].map((name) =>
              h("th", { scope: "col" }, name)
            )
          )
        ),
        this.body
      ),
      this.empty,
      this.bulk,
      this.results
    );
  }

  fillWorkspaces() {
    const current = this.filters.workspaceId;
    fill(
      this.workspaceSelect,
      h("option", { value: "" }, "Every workspace"),
      [...this.workspaces].sort().map((id) => h("option", { value: id }, id))
    );
    this.workspaceSelect.value = current;
  }

  renderBulk() {
    this.count = h("span", { "data-testid": "bulk-count" }, "0 selected");
    this.bulkNote = h("input", { type: "text", id: "bulk-note", name: "note", autocomplete: "off" });
    this.bulkReason = h("input", {
      type: "text",
      id: "bulk-reason",
      name: "reason",
      autocomplete: "off",
      onInput: () => this.updateBulk(),
    });
    this.approveButton = h("button", { type: "button", disabled: true, onClick: () => this.decide("approved") }, "Approve selected");
    this.rejectButton = h(
      "button",
      { type: "button", class: "danger", disabled: true, onClick: () => this.decide("rejected") },
      "Reject selected"
    );
    return h(
      "form",
      { class: "bulk", "aria-labelledby": "bulk-title", onSubmit: (event) => event.preventDefault() },
      h("h2", { id: "bulk-title" }, "Decide the selected steps"),
      h("p", {}, this.count, " — each with the review digest the inbox shows, in one request."),
      h("div", { class: "field" }, h("label", { for: "bulk-note" }, "Note for approvals (optional)"), this.bulkNote),
      h("div", { class: "field" }, h("label", { for: "bulk-reason" }, "Reason for rejecting (required to reject)"), this.bulkReason),
      h("div", { class: "actions" }, this.approveButton, this.rejectButton)
    );
  }

  input() {
    const input = {};
    if (this.filters.workspaceId) input.workspaceId = this.filters.workspaceId;
    if (this.filters.riskTier) input.riskTier = this.filters.riskTier;
    if (this.filters.decidableByMe) input.decidableByMe = true;
    return input;
  }

  start() {
    if (this.unsubscribe) this.unsubscribe();
    const input = this.input();
    this.loaded = false;
    this.items.clear();
    this.sync();
    this.unsubscribe = this.api.subscribe(
      "ApprovalQueue",
      { input },
      {
        start: () => {
          this.items.clear();
          this.loaded = false;
          this.sync();
          this.confirmEmpty(input);
        },
        next: (data) => this.change(data.approvalQueue),
        error: (message) => fill(this.live, `The live inbox stopped: ${message}`),
      }
    );
    if (this.stopStatus) this.stopStatus();
    this.stopStatus = this.api.onStatus((state, detail) => {
      if (state === "reconnecting") fill(this.live, `Reconnecting to the live inbox… (${detail})`);
      if (state === "refused") fill(this.live, `The server refused the live inbox: ${detail}`);
    });
  }

  /** The subscription says nothing when nothing waits: the count tells the list is complete. */
  async confirmEmpty(input) {
    const { data } = await this.api.request("PendingApprovals", { input });
    if (data && JSON.stringify(input) === JSON.stringify(this.input())) {
      this.loaded = true;
      this.sync();
    }
  }

  refilter() {
    this.filters = {
      workspaceId: this.workspaceSelect.value,
      riskTier: this.tierSelect.value,
      decidableByMe: this.mineBox.checked,
    };
    this.start();
  }

  change(change) {
    const item = change.item;
    if (change.kind === "removed") {
      this.items.delete(item.stepId);
      this.selected.delete(item.stepId);
    } else {
      this.items.set(item.stepId, item);
      if (!this.workspaces.has(item.workspaceId)) {
        this.workspaces.add(item.workspaceId);
        this.fillWorkspaces();
      }
    }
    this.loaded = true;
    this.sync();
  }

  ordered() {
    return [...this.items.values()].sort(
      (a, b) => Date.parse(a.awaitingSince) - Date.parse(b.awaitingSince) || a.stepId.localeCompare(b.stepId)
    );
  }

  /** The rows follow the items: kept, updated, added and removed in place, so focus stays put. */
  sync() {
    const focusedStep = document.activeElement && document.activeElement.closest && document.activeElement.closest("tr[data-step-id]");
    const focusedId = focusedStep && this.body.contains(focusedStep) ? focusedStep.dataset.stepId : null;
    const focusedIndex = focusedId ? [...this.body.children].indexOf(focusedStep) : -1;
    for (const [stepId, row] of this.rows) {
      if (!this.items.has(stepId)) {
        row.remove();
        this.rows.delete(stepId);
      }
    }
    const ordered = this.ordered();
    ordered.forEach((item, index) => {
      let row = this.rows.get(item.stepId);
      if (!row) {
        row = this.row(item);
        this.rows.set(item.stepId, row);
      } else if (row.item !== item) {
        this.updateRow(row, item);
      }
      if (this.body.children[index] !== row) this.body.insertBefore(row, this.body.children[index] || null);
    });
    const rows = [...this.body.children];
    if (rows.length && !rows.some((row) => row.tabIndex === 0)) rows[0].tabIndex = 0;
    if (focusedId && !this.items.has(focusedId) && rows.length) {
      const next = rows[Math.min(focusedIndex, rows.length - 1)];
      this.focusRow(next);
    }
    const count = ordered.length;
    this.empty.hidden = !(this.loaded && count === 0);
    fill(
      this.live,
      this.loaded || count
        ? `Live: ${count} step${count === 1 ? "" : "s"} awaiting a decision`
        : "Loading the queue…"
    );
    this.updateBulk();
  }

  row(item) {
    const select = h("input", {
      type: "checkbox",
      class: "select-step",
      "aria-label": `Select ${item.key} (${item.stepId})`,
      onChange: () => this.toggle(item.stepId, select.checked),
    });
    const row = h("tr", { "data-step-id": item.stepId, tabindex: "-1", onFocus: () => this.rove(row) });
    row.select = select;
    this.updateRow(row, item);
    return row;
  }

  updateRow(row, item) {
    row.item = item;
    row.select.checked = this.selected.has(item.stepId);
    const review = `#/review/${encodeURIComponent(item.executionId)}/${encodeURIComponent(item.stepId)}`;
    row.age = h("td", { class: "age" }, age(item.awaitingSince));
    row.deadline = h("td", { class: "deadline" }, countdown(item.deadline));
    fill(
      row,
      h("td", {}, row.select),
      h("td", {}, h("a", { href: review, class: "step-link", tabindex: "-1" }, item.key), h("div", { class: "sub" }, item.stepId)),
      h("td", {}, item.workspaceId),
      h("td", {}, tierBadge(item.riskTier)),
      h("td", {}, h("a", { href: `#/execution/${encodeURIComponent(item.executionId)}`, tabindex: "-1" }, item.executionId)),
      row.age,
      row.deadline,
      h(
        "td",
        { class: "quorum", "data-testid": "quorum" },
        `${item.approvalsGiven} of ${item.requiredApprovals}`,
        h("span", { class: "quorum-bar", "aria-hidden": "true" },
          Array.from({ length: item.requiredApprovals }, (_, index) =>
            h("span", { class: index < item.approvalsGiven ? "pip on" : "pip" })
          )
        )
      ),
      h("td", {}, item.viewerCanDecide ? "can decide" : h("span", { class: "muted" }, "cannot decide"))
    );
  }

  tick() {
    const now = Date.now();
    for (const row of this.rows.values()) {
      row.age.textContent = age(row.item.awaitingSince, now);
      row.deadline.textContent = countdown(row.item.deadline, now);
    }
  }

  rove(row) {
    for (const other of this.body.children) other.tabIndex = other === row ? 0 : -1;
  }

  focusRow(row) {
    if (!row) return;
    this.rove(row);
    row.focus();
  }

  key(event) {
    const row = event.target.closest("tr[data-step-id]");
    if (!row || event.altKey || event.ctrlKey || event.metaKey) return;
    const onRow = event.target === row;
    const rows = [...this.body.children];
    const index = rows.indexOf(row);
    const moves = { ArrowDown: index + 1, j: index + 1, ArrowUp: index - 1, k: index - 1, Home: 0, End: rows.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      this.focusRow(rows[Math.max(0, Math.min(rows.length - 1, moves[event.key]))]);
    } else if (event.key === "Enter" && onRow) {
      event.preventDefault();
      window.location.hash = row.querySelector("a.step-link").getAttribute("href");
    } else if (event.key === "e" && onRow) {
      event.preventDefault();
      window.location.hash = `#/execution/${encodeURIComponent(row.item.executionId)}`;
    } else if (event.key === "x" || (event.key === " " && onRow)) {
      event.preventDefault();
      row.select.checked = !row.select.checked;
      this.toggle(row.dataset.stepId, row.select.checked);
    }
  }

  toggle(stepId, on) {
    if (on) this.selected.add(stepId);
    else this.selected.delete(stepId);
    this.updateBulk();
  }

  selectAll(on) {
    for (const row of this.rows.values()) {
      row.select.checked = on;
      this.toggle(row.dataset.stepId, on);
    }
  }

  updateBulk() {
    const count = this.selected.size;
    fill(this.count, `${count} selected`);
    this.approveButton.disabled = count === 0 || this.busy;
    this.rejectButton.disabled = count === 0 || this.busy || !this.bulkReason.value.trim();
    this.allBox.checked = count > 0 && count === this.rows.size;
  }

  async decide(decision) {
    const chosen = [...this.selected].map((stepId) => this.items.get(stepId)).filter(Boolean);
    if (!chosen.length) return;
    const reason = this.bulkReason.value.trim();
    const note = this.bulkNote.value.trim();
    if (decision === "rejected" && !reason) return;
    const decisions = chosen.map((item) => ({
      executionId: item.executionId,
      stepId: item.stepId,
      decision: decision === "approved" ? "approve" : "reject",
      reviewDigest: item.reviewDigest,
      ...(decision === "rejected" ? { reason } : note ? { note } : {}),
    }));
    this.busy = true;
    this.updateBulk();
    const title = h("h2", { id: "bulk-results-title" }, decision === "approved" ? "Bulk approval" : "Bulk rejection");
    try {
      const { data, errors } = await this.api.request("DecideSteps", {
        input: { decidedBy: this.viewer.principalId, decisions },
      });
      if (!data) {
        fill(this.results, title, h("p", { role: "alert" }, firstError(errors).message));
      } else {
        const outcome = data.decideExecutionSteps;
        const keys = new Map(chosen.map((item) => [item.stepId, item.key]));
        fill(
          this.results,
          title,
          h("p", { role: "status" }, `${outcome.succeeded} succeeded, ${outcome.failed} failed.`),
          h(
            "ul",
            { class: "results", "data-testid": "bulk-results" },
            outcome.results.map((result) =>
              h(
                "li",
                { class: result.ok ? "ok" : "failed", "data-step-id": result.stepId },
                h("strong", {}, keys.get(result.stepId) || result.stepId),
                ` (${result.stepId}): `,
                result.ok ? `${result.status}` : `not decided — ${result.message || result.code}`
              )
            )
          )
        );
        for (const result of outcome.results) if (result.ok) this.selected.delete(result.stepId);
        for (const row of this.rows.values()) row.select.checked = this.selected.has(row.dataset.stepId);
      }
    } catch (error) {
      fill(this.results, title, h("p", { role: "alert" }, error.message));
    } finally {
      this.results.hidden = false;
      this.busy = false;
      this.updateBulk();
    }
  }
}
