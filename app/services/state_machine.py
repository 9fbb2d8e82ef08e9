"""Every lifecycle transition of an execution's run, in one table.

A run's state is its execution's status, except `stopping` (shutdown requested while a step runs)
and the recorded end of a run that is no longer current (after a retry). A command or runner report
is allowed only from the states listed for it; from any other state the service answers CONFLICT
with the state as `currentStatus`. README ("Execution lifecycle") prints this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from app.contracts.control_plane.shared import TERMINAL_EXECUTION_STATUSES
from app.errors import Conflict

STOPPING = "stopping"
AWAITING = "awaiting_approval"


class Action(StrEnum):
    COMPILE = "compilePlan"
    VERIFY = "verifyPlan"
    START = "startExecution"
    PAUSE = "pauseExecution"
    RESUME = "resumeExecution"
    CANCEL = "cancelExecution"
    ABORT = "abortExecution"
    SHUTDOWN = "shutdownExecution"
    RETRY = "retryExecution"
    STEP_STARTED = "reportStepStarted"
    STEP_COMPLETED = "reportStepCompleted"
    STEP_FAILED = "reportStepFailed"


_LIVE = ("running", AWAITING, "paused", STOPPING)

TRANSITIONS: Final[Mapping[Action, Mapping[str, str]]] = {
    Action.COMPILE: {"pending": "pending"},
    Action.VERIFY: {"pending": "pending"},
    Action.START: {"pending": "running"},
    Action.PAUSE: {"running": "paused", AWAITING: "paused"},
    Action.RESUME: {"paused": "running"},
    Action.CANCEL: {"pending": "cancelled", **dict.fromkeys(_LIVE, "cancelled")},
    Action.ABORT: dict.fromkeys(_LIVE, "aborted"),
    Action.SHUTDOWN: {"running": STOPPING, AWAITING: "cancelled", "paused": STOPPING},
    Action.RETRY: {"failed": "running"},
    Action.STEP_STARTED: {"running": "running"},
    Action.STEP_COMPLETED: {"running": "running", "paused": "paused", STOPPING: "cancelled"},
    Action.STEP_FAILED: {"running": "failed", "paused": "failed", STOPPING: "failed"},
}
"""action -> {allowed source state: target state}.

Where the target depends on the steps, the service settles it and the table names the usual case:
START and RESUME give awaiting_approval when a step awaits a decision; SHUTDOWN gives cancelled
at once when no step is running; STEP_COMPLETED gives awaiting_approval when the next step requires
approval, and completed after the last step.
"""

NOTES: Final[Mapping[Action, str]] = {
    Action.START: "awaiting_approval when the first step requires approval",
    Action.RESUME: "awaiting_approval when a step awaits a decision",
    Action.SHUTDOWN: "cancelled at once when no step is running",
    Action.STEP_COMPLETED: "awaiting_approval when the next step requires approval; completed after the last step",
    Action.RETRY: "a new run, from the failed step",
}


def run_state(execution_status: str, shutdown_requested: bool, is_current: bool, ended_status: str | None) -> str:
    if not is_current:
        return ended_status or "superseded"
    if shutdown_requested and execution_status in ("running", "paused"):
        return STOPPING
    return execution_status


def is_terminal(state: str) -> bool:
    return state in TERMINAL_EXECUTION_STATUSES or state == "superseded"


def allowed(action: Action, state: str) -> str:
    """The target state of `action` from `state`, or CONFLICT naming the state."""
    targets = TRANSITIONS[action]
    if state in targets:
        return targets[state]
    sources = ", ".join(targets)
    raise Conflict(
        f"{action.value} is not allowed while the execution is {state!r}; it is allowed from: {sources}.", state
    )


def markdown_table() -> str:
    """The table above as Markdown, for README (a test keeps README in step with it)."""
    lines = ["| command or report | allowed from | leads to |", "| --- | --- | --- |"]
    for action, targets in TRANSITIONS.items():
        groups: dict[str, list[str]] = {}
        for source, target in targets.items():
            groups.setdefault(target, []).append(f"`{source}`")
        if len(groups) == 1:
            leads = f"`{next(iter(groups))}`"
        else:
            leads = "; ".join(f"`{target}` from {', '.join(sources)}" for target, sources in groups.items())
        note = NOTES.get(action)
        sources = ", ".join(f"`{source}`" for source in targets)
        lines.append(f"| `{action.value}` | {sources} | {leads}{f' ({note})' if note else ''} |")
    return "\n".join(lines)
