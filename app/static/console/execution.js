// The execution page: status, steps and lane, the trace as a timeline, and the evidence bundles
// (from the event log's evidence.exported events) with their digest and a download of the bundle JSON.

import { h, fill, facts, tierBadge, statusBadge, timeElement, firstError } from "./util.js";

const EXPORTED = "controlPlane.execution.evidence.exported";
const DECISION_STAGES = new Set(["step.approved", "step.rejected", "step.approvalRecorded", "step.expired", "step.escalated"]);

export class ExecutionPage extends HTMLElement {
  setup(api, viewer, { executionId }) {
    this.api = api;
    this.viewer = viewer;
    this.executionId = executionId;
  }

  connectedCallback() {
    fill(this, h("h1", {}, `Execution ${this.executionId}`), h("p", { role: "status" }, "Loading the execution…"));
    this.load();
  }

  disconnectedCallback() {
    this.stop();
  }

  stop() {
    if (this.unsubscribe) this.unsubscribe();
    this.unsubscribe = null;
    window.clearTimeout(this.pending);
  }

  /** Live: every new event of the execution (after the log's end as loaded) refreshes the page. */
  follow(log) {
    if (this.unsubscribe || !log || log.hasMore || !this.isConnected) return; // left before the load answered
    const input = { executionId: this.executionId };
    if (log.endCursor) input.after = log.endCursor;
    this.unsubscribe = this.api.subscribe("ExecutionEvents", { input }, {
      next: (data) => {
        const event = data.events;
        this.latest = `${event.key.replace(/^controlPlane\.execution\./, "")}${event.actorId ? ` by ${event.actorId}` : ""}`;
        window.clearTimeout(this.pending);
        this.pending = window.setTimeout(() => this.load(`Updated live: ${this.latest}.`), 250);
      },
      error: () => {},
    });
  }

  async load(message) {
    const { data, errors } = await this.api.request("Execution", {
      execution: { executionId: this.executionId },
      trace: { executionId: this.executionId },
      evidence: { executionId: this.executionId, eventKeys: [EXPORTED], limit: 100 },
      log: { executionId: this.executionId, limit: 500 },
    }).catch((error) => ({ data: null, errors: [{ message: error.message }] }));
    if (!data || !data.execution) {
      fill(
        this,
        h("h1", {}, `Execution ${this.executionId}`),
        h("p", { role: "alert", class: "notice error" }, `This execution cannot be shown: ${firstError(errors).message}`)
      );
      return;
    }
    const focused = this.contains(document.activeElement) ? document.activeElement.textContent : null;
    this.render(data, message);
    this.follow(data.log);
    if (focused) {
      const again = [...this.querySelectorAll("button, a")].find((element) => element.textContent === focused);
      if (again) again.focus();
    }
  }

  render(data, message) {
    const execution = data.execution.execution;
    const lane = execution.lane || {};
    const entries = (data.trace && data.trace.entries) || [];
    const bundles = ((data.events && data.events.items) || []).map((event) => ({ ...event.payload, occurredAt: event.occurredAt }));
    this.status = h("div", { class: "outcome", "data-testid": "evidence-status" });
    this.live = h("p", { class: "live-status", role: "status", "data-testid": "execution-live" }, message || "");
    fill(
      this,
      h("p", { class: "crumbs" }, h("a", { href: "#/inbox" }, "Inbox"), " › ", "Execution"),
      h("h1", {}, `Execution ${execution.executionId}`),
      this.live,
      h(
        "section",
        { "aria-labelledby": "summary-title" },
        h("h2", { id: "summary-title" }, "Summary"),
        facts([
          ["Status", h("span", { "data-testid": "execution-status" }, statusBadge(execution.status))],
          ["Risk tier", tierBadge(execution.riskTier)],
          ["Requires approval", execution.requiresApproval ? "yes" : "no"],
          ["Intent", execution.intentId],
          ["Plan", execution.planId],
          ["Run", execution.runId],
          ["Created", timeElement(execution.createdAt)],
          ["Updated", timeElement(execution.updatedAt)],
        ])
      ),
      h(
        "section",
        { "aria-labelledby": "lane-title" },
        h("h2", { id: "lane-title" }, "Lane"),
        facts([
          ["Lane", lane.laneKey],
          ["Lane status", lane.laneStatus],
          ["Phase", lane.lanePhase],
          ["Owner", lane.ownerRole],
          ["Pending approvals", lane.pendingApprovalCount === undefined ? null : String(lane.pendingApprovalCount)],
          ["Evidence bundles", lane.evidenceBundleCount === undefined ? null : String(lane.evidenceBundleCount)],
          ["Next lane", lane.recommendedNextLane],
        ])
      ),
      h(
        "section",
        { "aria-labelledby": "steps-title" },
        h("h2", { id: "steps-title" }, "Steps"),
        h(
          "table",
          { class: "steps" },
          h("caption", { class: "visually-hidden" }, "Steps of the execution"),
          h("thead", {}, h("tr", {}, ["#", "Step", "Status", "Tier", "Decided by", "Decided at", "Note"].map((name) => h("th", { scope: "col" }, name)))),
          h(
            "tbody",
            {},
            execution.steps.map((step) =>
              h(
                "tr",
                {},
                h("td", {}, String(step.position)),
                h(
                  "td",
                  {},
                  step.status === "awaiting_approval"
                    ? h("a", { href: `#/review/${encodeURIComponent(execution.executionId)}/${encodeURIComponent(step.stepId)}` }, step.key)
                    : step.key,
                  h("div", { class: "sub" }, step.stepId)
                ),
                h("td", {}, statusBadge(step.status)),
                h("td", {}, tierBadge(step.riskTier)),
                h("td", {}, step.decidedBy || "—"),
                h("td", {}, timeElement(step.decidedAt)),
                h("td", {}, step.decisionNote || "—")
              )
            )
          )
        )
      ),
      h(
        "section",
        { "aria-labelledby": "timeline-title" },
        h("h2", { id: "timeline-title" }, "Timeline"),
        entries.length
          ? h(
              "ol",
              { class: "timeline", "data-testid": "timeline" },
              entries.map((entry) => {
                const metadata = entry.metadata || {};
                return h(
                  "li",
                  { class: DECISION_STAGES.has(entry.stage) ? "decision" : null, "data-stage": entry.stage },
                  h("span", { class: "when" }, timeElement(entry.timestamp)),
                  h("span", { class: "what" }, h("strong", {}, entry.stage), " → ", entry.status.replaceAll("_", " ")),
                  h("span", { class: "who" }, entry.actorId ? `by ${entry.actorId}` : ""),
                  metadata.stepId ? h("span", { class: "sub" }, metadata.stepId) : null
                );
              })
            )
          : h("p", {}, "No trace entries yet.")
      ),
      h(
        "section",
        { "aria-labelledby": "evidence-title" },
        h("h2", { id: "evidence-title" }, "Evidence bundles"),
        h(
          "p",
          { class: "help" },
          "Each digest is sha256 of the bundle's canonical JSON (RFC 8785); the download is the same bundle, indented."
        ),
        bundles.length
          ? h(
              "ul",
              { class: "bundles", "data-testid": "bundles" },
              bundles.map((bundle) =>
                h(
                  "li",
                  {},
                  h("strong", {}, `Bundle ${bundle.ordinal ?? ""}`.trim()),
                  ` ${bundle.bundleId} · exported by ${bundle.exportedBy || "—"} at `,
                  timeElement(bundle.exportedAt || bundle.occurredAt),
                  h("div", {}, "Digest ", h("code", { "data-testid": "bundle-digest" }, bundle.digest)),
                  h(
                    "button",
                    { type: "button", class: "secondary", onClick: () => this.download(bundle.runId || execution.runId, bundle.bundleId) },
                    `Download ${bundle.bundleId}.json`
                  )
                )
              )
            )
          : h("p", {}, "No evidence bundle exported yet."),
        execution.runId
          ? h("button", { type: "button", onClick: () => this.export(execution.runId) }, "Export a new evidence bundle")
          : null,
        this.status
      )
    );
  }

  async export(runId) {
    const { data, errors } = await this.api.request("ExportEvidence", { input: { runId, exportedBy: this.viewer.principalId } });
    if (!data) {
      fill(this.status, h("p", { role: "alert", class: "notice error" }, firstError(errors).message));
      return;
    }
    const result = data.exportExecutionEvidence;
    await this.load(`Exported ${result.bundleId} (digest ${result.digest}).`);
  }

  async download(runId, bundleId) {
    const { data, errors } = await this.api.request("EvidenceBundle", { input: { runId, bundleId } });
    if (!data) {
      fill(this.status, h("p", { role: "alert", class: "notice error" }, firstError(errors).message));
      return;
    }
    const bundle = data.evidenceBundle;
    const text = JSON.stringify(bundle.bundle, null, 2) + "\n";
    const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    const link = h("a", { href: url, download: `${bundle.bundleId}.json`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10000);
    fill(this.status, h("p", { role: "status", class: "notice ok" }, `Downloaded ${bundle.bundleId}.json (digest ${bundle.digest}).`));
  }
}
