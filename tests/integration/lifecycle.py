"""A client of the whole execution lifecycle over GraphQL, as an operator console and a runner use it.

`Lifecycle` wraps the documents of app/testing/documents.py around the `execute` fixture; every call goes over HTTP
through gql like any client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.testing.documents import (
    ABORT,
    APPROVE,
    CANCEL,
    COMPILE,
    EXECUTION,
    EXPORT,
    PAUSE,
    REJECT,
    RESUME,
    RETRY,
    SHUTDOWN,
    START,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_STARTED,
    SUBMIT,
    VERIFY,
)

THREE_STEPS = {
    "steps": [
        {"key": "build.artifact", "input": {"ref": "main"}},
        {"key": "deploy.production", "input": {"region": "eu-west-1"}},
        {"key": "notify.team", "input": {"channel": "#ops"}},
    ]
}
"""build (medium) -> deploy (high: awaits approval) -> notify (medium)."""


@dataclass
class Lifecycle:
    """One execution driven through its life; `admin`, `runner` and `approver` are bearer tokens. The
    admin asks for the work; the approver (another admin) decides its steps: nobody approves their own
    request under the default approval rule."""

    execute: Any
    admin: str
    runner: str
    approver: str | None = None
    admin_id: str = "dana"
    approver_id: str = "erin"
    execution_id: str = ""
    intent_id: str = ""
    plan_id: str = ""
    run_id: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)

    async def call(self, document: str, payload: dict[str, Any], bearer: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = await self.execute(document, {"input": payload}, bearer=bearer or self.admin)
        return next(iter(data.values()))

    async def submit(self, text: str = "Ship release 42", workspace: str = "ws-test", **extra: Any) -> dict[str, Any]:
        out = await self.call(SUBMIT, {"workspaceId": workspace, "text": text, **extra})
        self.execution_id, self.intent_id = out["executionId"], out["intentId"]
        return out

    async def compile(self, draft: dict[str, Any] | None = THREE_STEPS) -> dict[str, Any]:
        payload: dict[str, Any] = {"executionId": self.execution_id, "intentId": self.intent_id}
        if draft is not None:
            payload["draft"] = draft
        out = await self.call(COMPILE, payload)
        self.plan_id = out["planId"]
        return out

    async def verify(self) -> dict[str, Any]:
        return await self.call(VERIFY, {"executionId": self.execution_id, "planId": self.plan_id})

    async def start(self, **extra: Any) -> dict[str, Any]:
        out = await self.call(START, {"executionId": self.execution_id, "planId": self.plan_id, **extra})
        self.run_id = out["runId"]
        await self.refresh()
        return out

    async def prepared(self, draft: dict[str, Any] | None = THREE_STEPS) -> Lifecycle:
        """Submitted, compiled and verified; not started."""
        await self.submit()
        await self.compile(draft)
        await self.verify()
        return self

    async def started(self, draft: dict[str, Any] | None = THREE_STEPS) -> Lifecycle:
        await self.prepared(draft)
        await self.start()
        return self

    async def refresh(self) -> dict[str, Any]:
        record = (await self.call(EXECUTION, {"executionId": self.execution_id}))["execution"]
        self.steps = record["steps"]
        return dict(record)

    def step(self, position: int) -> str:
        return str(self.steps[position - 1]["stepId"])

    async def report(self, document: str, position: int, **extra: Any) -> dict[str, Any]:
        return await self.call(document, {"runId": self.run_id, "stepId": self.step(position), **extra}, self.runner)

    async def run_step(self, position: int, output: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.report(STEP_STARTED, position)
        return await self.report(STEP_COMPLETED, position, **({"output": output} if output else {}))

    async def approve(self, position: int, note: str | None = None) -> dict[str, Any]:
        payload = {"executionId": self.execution_id, "stepId": self.step(position), "approvedBy": self.approver_id}
        return await self.call(APPROVE, payload | ({"note": note} if note else {}), self._approver)

    async def reject(self, position: int, reason: str = "Not now.") -> dict[str, Any]:
        payload = {"executionId": self.execution_id, "stepId": self.step(position), "rejectedBy": self.approver_id}
        return await self.call(REJECT, payload | {"reason": reason}, self._approver)

    @property
    def _approver(self) -> str:
        if self.approver is None:
            raise AssertionError("this Lifecycle has no approver token; pass approver=token('erin')")
        return self.approver

    async def control(self, document: str, actor_field: str, **extra: Any) -> dict[str, Any]:
        """pause / resume / abort / shutdown / retry the current run as the admin."""
        return await self.call(document, {"runId": self.run_id, actor_field: self.admin_id, **extra})

    async def status(self) -> str:
        return str((await self.refresh())["status"])

    async def step_statuses(self) -> list[str]:
        await self.refresh()
        return [step["status"] for step in self.steps]


# --- Whole journeys, one per way an execution ends (test_events walks them all) -------------------


async def journey_approved(life: Lifecycle) -> Lifecycle:
    """Every step runs; the high-risk one is approved; evidence exported twice."""
    await life.started()
    await life.run_step(1, output={"artifact": "app-42.tar"})
    await life.approve(2, note="Change window open.")
    await life.run_step(2, output={"deployed": True})
    await life.run_step(3)
    await life.call(EXPORT, {"runId": life.run_id, "exportedBy": life.admin_id})
    await life.call(EXPORT, {"runId": life.run_id, "exportedBy": life.admin_id})
    return life


async def journey_rejected(life: Lifecycle) -> Lifecycle:
    await life.started()
    await life.run_step(1)
    await life.reject(2, reason="Freeze until Monday.")
    await life.call(EXPORT, {"runId": life.run_id, "exportedBy": life.admin_id})
    return life


async def journey_cancelled_before_start(life: Lifecycle) -> Lifecycle:
    await life.prepared()
    await life.call(CANCEL, {"executionId": life.execution_id, "cancelledBy": life.admin_id, "reason": "Not needed."})
    return life


async def journey_cancelled_mid_run(life: Lifecycle) -> Lifecycle:
    await life.started()
    await life.run_step(1)
    await life.approve(2)
    await life.report(STEP_STARTED, 2)
    await life.call(CANCEL, {"executionId": life.execution_id, "cancelledBy": life.admin_id})
    return life


async def journey_paused_resumed(life: Lifecycle) -> Lifecycle:
    await life.started()
    await life.report(STEP_STARTED, 1)
    await life.control(PAUSE, "pausedBy", reason="Checking the artifact.")
    await life.report(STEP_COMPLETED, 1)
    await life.control(RESUME, "resumedBy")
    await life.approve(2)
    await life.run_step(2)
    await life.run_step(3)
    return life


async def journey_retried(life: Lifecycle) -> Lifecycle:
    """Step 2 fails after its approval; the retry runs it again (still approved) to completion."""
    await life.started()
    await life.run_step(1)
    await life.approve(2)
    await life.report(STEP_STARTED, 2)
    await life.report(STEP_FAILED, 2, errorCode="TIMEOUT", message="Deploy timed out.")
    await life.call(EXPORT, {"runId": life.run_id, "exportedBy": life.admin_id})
    life.run_id = (await life.control(RETRY, "retriedBy"))["runId"]
    await life.run_step(2)
    await life.run_step(3)
    await life.call(EXPORT, {"runId": life.run_id, "exportedBy": life.admin_id})
    return life


async def journey_aborted(life: Lifecycle) -> Lifecycle:
    await life.started()
    await life.report(STEP_STARTED, 1)
    await life.control(ABORT, "abortedBy", reason="Wrong branch.")
    return life


async def journey_shutdown_running(life: Lifecycle) -> Lifecycle:
    await life.started()
    await life.report(STEP_STARTED, 1)
    await life.control(SHUTDOWN, "shutdownBy", reason="End of day.")
    await life.report(STEP_COMPLETED, 1)
    return life


async def journey_shutdown_idle(life: Lifecycle) -> Lifecycle:
    await life.started()
    await life.run_step(1)
    await life.control(SHUTDOWN, "shutdownBy")
    return life


async def journey_plan_rejected(life: Lifecycle) -> Lifecycle:
    await life.prepared({"steps": [{"key": "frobnicate.widget"}]})
    return life


async def journey_without_draft(life: Lifecycle) -> Lifecycle:
    """A single step derived from the intent text (`deploy.intent`, high): approved, then run."""
    await life.submit(text="Deploy the billing service")
    await life.compile(None)
    await life.verify()
    await life.start()
    await life.approve(1)
    await life.run_step(1)
    return life


JOURNEYS = {
    "approved": journey_approved,
    "rejected": journey_rejected,
    "cancelled_before_start": journey_cancelled_before_start,
    "cancelled_mid_run": journey_cancelled_mid_run,
    "paused_resumed": journey_paused_resumed,
    "retried": journey_retried,
    "aborted": journey_aborted,
    "shutdown_running": journey_shutdown_running,
    "shutdown_idle": journey_shutdown_idle,
    "plan_rejected": journey_plan_rejected,
    "without_draft": journey_without_draft,
}
