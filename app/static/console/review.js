// The review page: everything approvalRequest returns, the input as formatted JSON (editable where
// the rule allows edits, with the diff shown before approving), and approve / reject carrying the
// reviewDigest shown, so a page that went stale is refused instead of approving something else.

import { h, fill, facts, countdown, age, pretty, jsonBlock, diffBlock, tierBadge, statusBadge, timeElement, when, firstError } from "./util.js";

export const STALE_MESSAGE = "This changed since you opened it.";

export class ReviewPage extends HTMLElement {
  setup(api, viewer, { executionId, stepId }) {
    this.api = api;
    this.viewer = viewer;
    this.ids = { executionId, stepId };
    this.request = null;
  }

  connectedCallback() {
    fill(this, h("h1", {}, "Review"), h("p", { role: "status" }, "Loading the request…"));
    this.load();
    this.ticker = window.setInterval(() => this.tick(), 1000);
  }

  disconnectedCallback() {
    this.stop();
  }

  stop() {
    if (this.unsubscribe) this.unsubscribe();
    this.unsubscribe = null;
    window.clearInterval(this.ticker);
  }

  tick() {
    if (!this.request || !this.waiting) return;
    const now = Date.now();
    this.waiting.textContent = age(this.request.awaitingSince, now);
    this.countdown.textContent = countdown(this.request.deadline, now);
  }

  /** Tells the reviewer as soon as the step changes under them (the server refuses the old digest anyway). */
  follow(log) {
    if (this.unsubscribe) this.unsubscribe();
    this.unsubscribe = null;
    if (!log || log.hasMore || !this.isConnected) return; // a page left before its load answered follows nothing
    const input = { executionId: this.ids.executionId };
    if (log.endCursor) input.after = log.endCursor;
    this.unsubscribe = this.api.subscribe("ExecutionEvents", { input }, {
      next: (data) => {
        const event = data.events;
        if (event.stepId !== this.ids.stepId || this.decided || this.sending) return;
        const what = event.key.replace(/^controlPlane\.execution\./, "");
        fill(
          this.changed,
          h("p", {}, h("strong", {}, STALE_MESSAGE), ` ${what}${event.actorId ? ` by ${event.actorId}` : ""} at `, timeElement(event.occurredAt), "."),
          h("button", { type: "button", class: "secondary", onClick: () => this.load() }, "Review it again")
        );
        this.changed.hidden = false;
      },
      error: () => {},
    });
  }

  async load() {
    try {
      const data = await this.api.data("ApprovalRequest", {
        input: this.ids,
        log: { executionId: this.ids.executionId, limit: 500 },
      });
      this.request = data.approvalRequest.request;
      this.decided = false;
      this.render();
      this.follow(data.log);
    } catch (error) {
      fill(
        this,
        h("h1", {}, "Review"),
        h("p", { role: "alert", class: "notice error" }, `This request cannot be shown: ${error.message}`),
        h("p", {}, h("a", { href: "#/inbox" }, "Back to the inbox"))
      );
    }
  }

  render() {
    const request = this.request;
    const rule = request.rule;
    const open = request.status === "awaiting_approval";
    const eligibility = request.viewerEligibility;
    this.editable = open && eligibility.canDecide && rule.allowEdit === true;
    this.shownInput = pretty(request.input);
    this.inputArea = h("textarea", {
      id: "review-input",
      name: "input",
      class: "json-editor",
      rows: String(Math.min(24, Math.max(4, this.shownInput.split("\n").length + 1))),
      spellcheck: "false",
      readonly: !this.editable,
      "aria-describedby": "review-input-help",
      value: this.shownInput,
      onInput: () => this.edited(),
    });
    this.diff = h("section", { class: "diff-section", "aria-labelledby": "diff-title", hidden: true, "data-testid": "diff" });
    this.inputError = h("p", { class: "notice error", role: "alert", hidden: true });
    this.note = h("textarea", { id: "approve-note", name: "note", rows: "2" });
    this.reason = h("textarea", {
      id: "reject-reason",
      name: "reason",
      rows: "2",
      required: true,
      "aria-describedby": "reject-reason-help",
      onInput: () => this.updateButtons(),
    });
    this.approveButton = h("button", { type: "button", onClick: () => this.approve() }, "Approve");
    this.rejectButton = h("button", { type: "button", class: "danger", disabled: true, onClick: () => this.reject() }, "Reject");
    this.outcome = h("div", { class: "outcome", "data-testid": "outcome", tabindex: "-1" });
    this.changed = h("div", { class: "notice", role: "status", "data-testid": "changed", hidden: true });
    this.waiting = h("span", {}, age(request.awaitingSince));
    this.countdown = h("span", {}, countdown(request.deadline));

    const votes = request.approvals.length
      ? h(
          "table",
          { class: "votes" },
          h("caption", {}, "Votes so far"),
          h("thead", {}, h("tr", {}, ["Who", "Decision", "When", "Note", "Edited the input"].map((name) => h("th", { scope: "col" }, name)))),
          h(
            "tbody",
            {},
            request.approvals.map((vote) =>
              h(
                "tr",
                {},
                h("td", {}, vote.actorId),
                h("td", {}, statusBadge(vote.decision)),
                h("td", {}, timeElement(vote.decidedAt)),
                h("td", {}, vote.note || "—"),
                h("td", {}, vote.editedInput ? "yes" : "no")
              )
            )
          )
        )
      : h("p", {}, "No votes yet.");
    const approvalsGiven = request.approvals.filter((vote) => vote.decision === "approved").length;

    fill(
      this,
      h("p", { class: "crumbs" }, h("a", { href: "#/inbox" }, "Inbox"), " › ", "Review"),
      h("h1", {}, `Review: ${request.key}`),
      this.changed,
      h("p", { class: "intent", "data-testid": "intent" }, request.intentText ? `“${request.intentText}”` : "(no intent text)"),
      h(
        "section",
        { "aria-labelledby": "request-title" },
        h("h2", { id: "request-title" }, "The request"),
        facts([
          ["Status", statusBadge(request.status)],
          ["Requested by", request.requestedBy],
          ["Workspace", request.workspaceId],
          ["Execution", h("a", { href: `#/execution/${encodeURIComponent(request.executionId)}` }, request.executionId)],
          ["Step", `${request.stepId} (position ${request.position})`],
          ["Risk tier", tierBadge(request.riskTier)],
          ["Why", request.riskReasons.length ? h("ul", {}, request.riskReasons.map((reason) => h("li", {}, reason))) : "—"],
          ["Waiting", request.awaitingSince ? [this.waiting, " (since ", timeElement(request.awaitingSince), ")"] : "—"],
          ["Deadline", request.deadline ? [this.countdown, " (", timeElement(request.deadline), ")"] : "no deadline"],
          ["Approvals", h("span", { "data-testid": "review-quorum" }, `${approvalsGiven} of ${request.requiredApprovals}`)],
          ["Run", request.runId],
          ["Plan", [request.planId, h("div", { class: "sub" }, request.planHash)]],
          ["Review digest", h("code", { "data-testid": "review-digest" }, request.reviewDigest)],
        ])
      ),
      h(
        "section",
        { "aria-labelledby": "rule-title" },
        h("h2", { id: "rule-title" }, `Rule ${rule.ruleId}`),
        rule.description ? h("p", {}, rule.description) : null,
        facts([
          ["Who may approve", rule.approverRoles.join(", ")],
          ["Approvals needed", String(request.requiredApprovals)],
          ["Self-approval", rule.allowSelfApproval ? "allowed" : "not allowed"],
          ["Edits", rule.allowEdit ? "an approver may edit the input" : "not allowed"],
          ["Timeout", rule.timeoutSeconds ? `${rule.timeoutSeconds} s, then ${rule.onTimeout || "nothing"}` : "none"],
          rule.escalateToRoles && rule.escalateToRoles.length ? ["Escalates to", rule.escalateToRoles.join(", ")] : null,
          ["Policy version", rule.policyVersion],
        ])
      ),
      h("section", { "aria-labelledby": "votes-title" }, h("h2", { id: "votes-title" }, "Votes"), votes),
      h(
        "section",
        { "aria-labelledby": "input-title" },
        h("h2", { id: "input-title" }, "Input"),
        request.originalInput !== null && request.originalInput !== undefined
          ? h("div", {}, h("p", {}, "An approver edited this input; as planned it was:"), diffBlock(pretty(request.originalInput), this.shownInput, "Input as planned and as edited"))
          : null,
        h("label", { for: "review-input" }, this.editable ? "Input (JSON, editable)" : "Input (JSON)"),
        this.inputArea,
        h(
          "p",
          { id: "review-input-help", class: "help" },
          this.editable ? "The rule allows edits: change the JSON and the diff is shown before you approve." : "The rule does not allow edits here, so the input is read-only."
        ),
        this.inputError,
        this.diff
      ),
      h(
        "section",
        { "aria-labelledby": "preceding-title" },
        h("h2", { id: "preceding-title" }, "Preceding steps"),
        request.precedingSteps.length
          ? h(
              "ol",
              { class: "preceding" },
              request.precedingSteps.map((step) =>
                h("li", {}, h("strong", {}, step.key), " ", statusBadge(step.status), jsonBlock(step.output, `Output of ${step.key}`))
              )
            )
          : h("p", {}, "None: this is the first step.")
      ),
      h(
        "section",
        { "aria-labelledby": "decide-title", class: "decide" },
        h("h2", { id: "decide-title" }, "Decide"),
        !open ? h("p", { class: "notice" }, `This step is ${request.status.replaceAll("_", " ")}; it no longer awaits a decision.`) : null,
        open && !eligibility.canDecide
          ? h(
              "div",
              { class: "notice", "data-testid": "cannot-decide" },
              h("p", {}, "You cannot decide this step:"),
              h("ul", {}, eligibility.reasons.map((reason) => h("li", {}, `${reason.message} (${reason.code})`)))
            )
          : null,
        open && eligibility.canDecide
          ? h(
              "form",
              { onSubmit: (event) => event.preventDefault(), "aria-label": "Decision" },
              h(
                "div",
                { class: "decision" },
                h("label", { for: "approve-note" }, "Note (optional)"),
                this.note,
                this.approveButton
              ),
              h(
                "div",
                { class: "decision" },
                h("label", { for: "reject-reason" }, "Reason for rejecting (required)"),
                this.reason,
                h("p", { id: "reject-reason-help", class: "help" }, "Reject stays disabled until a reason is typed."),
                this.rejectButton
              )
            )
          : null,
        this.outcome
      )
    );
    this.updateButtons();
  }

  /** The edited input: undefined when unchanged, or { value } / { error }. */
  editedInput() {
    const text = this.inputArea.value;
    if (!this.editable || text.trim() === this.shownInput.trim()) return undefined;
    try {
      const value = JSON.parse(text);
      return pretty(value) === this.shownInput ? undefined : { value };
    } catch (error) {
      return { error: error.message };
    }
  }

  edited() {
    const edit = this.editedInput();
    this.inputError.hidden = !(edit && edit.error);
    if (edit && edit.error) fill(this.inputError, `Not valid JSON: ${edit.error}`);
    if (edit && !edit.error) {
      this.diff.hidden = false;
      fill(
        this.diff,
        h("h3", { id: "diff-title" }, "Your changes (approving approves this input)"),
        diffBlock(this.shownInput, pretty(edit.value), "Changes to the input")
      );
    } else {
      this.diff.hidden = true;
      this.diff.replaceChildren();
    }
    this.updateButtons();
  }

  updateButtons() {
    if (!this.approveButton) return;
    const edit = this.editedInput();
    this.approveButton.disabled = Boolean(this.busy || (edit && edit.error));
    fill(this.approveButton, edit && !edit.error ? "Approve with these changes" : "Approve");
    this.rejectButton.disabled = Boolean(this.busy || !this.reason.value.trim());
  }

  async approve() {
    const edit = this.editedInput();
    if (edit && edit.error) return;
    const input = {
      executionId: this.request.executionId,
      stepId: this.request.stepId,
      approvedBy: this.viewer.principalId,
      reviewDigest: this.request.reviewDigest,
    };
    const note = this.note.value.trim();
    if (note) input.note = note;
    if (edit) input.editedInput = edit.value;
    await this.send("ApproveStep", input, (data) => {
      const result = data.approveExecutionStep;
      return result.status === "approved"
        ? `Approved at ${when(result.approvedAt)}.`
        : `Your approval is recorded: ${result.approvalsGiven} of ${result.requiredApprovals}; the step still awaits ${result.requiredApprovals - result.approvalsGiven} more.`;
    });
  }

  async reject() {
    const reason = this.reason.value.trim();
    if (!reason) return;
    await this.send(
      "RejectStep",
      {
        executionId: this.request.executionId,
        stepId: this.request.stepId,
        rejectedBy: this.viewer.principalId,
        reason,
        reviewDigest: this.request.reviewDigest,
      },
      (data) => `Rejected at ${when(data.rejectExecutionStep.rejectedAt)}.`
    );
  }

  async send(name, input, describe) {
    this.busy = true;
    this.sending = true; // our own decision's events are not a change under us
    this.updateButtons();
    try {
      const { data, errors } = await this.api.request(name, { input });
      if (data) {
        fill(
          this.outcome,
          h("p", { role: "status", class: "notice ok" }, describe(data)),
          h("p", {}, h("a", { href: "#/inbox" }, "Back to the inbox"), " · ", h("a", { href: `#/execution/${encodeURIComponent(input.executionId)}` }, "The execution"))
        );
        this.disableDecision();
        return;
      }
      this.failure(firstError(errors));
    } catch (error) {
      this.failure({ message: error.message, extensions: {} });
    } finally {
      this.busy = false;
      if (!this.decided) this.updateButtons();
      this.sending = false;
      this.outcome.focus(); // keyboard and screen-reader users land on what happened
    }
  }

  disableDecision() {
    this.decided = true;
    for (const control of [this.approveButton, this.rejectButton, this.note, this.reason]) control.disabled = true;
    this.inputArea.readOnly = true;
  }

  failure({ message, extensions }) {
    this.changed.hidden = true; // the outcome says it now, with the same way back
    const reload = h("button", { type: "button", class: "secondary", onClick: () => this.load() }, "Review it again");
    if (extensions.code === "CONFLICT" && extensions.currentStatus === "review_stale") {
      fill(
        this.outcome,
        h(
          "div",
          { role: "alert", class: "notice error", "data-testid": "stale" },
          h("p", {}, h("strong", {}, STALE_MESSAGE), " Nothing was decided: someone voted with an edit, or the request moved on. Review the current version before deciding."),
          reload
        )
      );
      this.disableDecision();
    } else if (extensions.code === "CONFLICT" && extensions.decidedBy) {
      fill(
        this.outcome,
        h(
          "div",
          { role: "alert", class: "notice error", "data-testid": "conflict" },
          h("p", {}, `Already ${extensions.decision || extensions.currentStatus} by `, h("strong", {}, extensions.decidedBy), " at ", timeElement(extensions.decidedAt), ". Nothing was changed."),
          reload
        )
      );
      this.disableDecision();
    } else {
      fill(this.outcome, h("div", { role: "alert", class: "notice error" }, h("p", {}, message), reload));
    }
  }
}
