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

from app.contracts.control_plane.statuses import TERMINAL_EXECUTION_STATUSES, ExecutionStatus, RunState
from app.errors import Conflict

State = ExecutionStatus | RunState
"""What a command is checked against: the execution's status, or one of the run's own states."""

PENDING, RUNNING, AWAITING, PAUSED = (
    ExecutionStatus.PENDING,
    ExecutionStatus.RUNNING,
    ExecutionStatus.AWAITING_APPROVAL,
    ExecutionStatus.PAUSED,
)
FAILED, CANCELLED, ABORTED = ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, ExecutionStatus.ABORTED
STOPPING, SUPERSEDED = RunState.STOPPING, RunState.SUPERSEDED


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


_LIVE = (RUNNING, AWAITING, PAUSED, STOPPING)

TRANSITIONS: Final[Mapping[Action, Mapping[State, State]]] = {
    Action.COMPILE: {PENDING: PENDING},
    Action.VERIFY: {PENDING: PENDING},
    Action.START: {PENDING: RUNNING},
    Action.PAUSE: {RUNNING: PAUSED, AWAITING: PAUSED},
    Action.RESUME: {PAUSED: RUNNING},
    Action.CANCEL: {PENDING: CANCELLED, **dict.fromkeys(_LIVE, CANCELLED)},
    Action.ABORT: dict.fromkeys(_LIVE, ABORTED),
    Action.SHUTDOWN: {RUNNING: STOPPING, AWAITING: CANCELLED, PAUSED: STOPPING},
    Action.RETRY: {FAILED: RUNNING},
    Action.STEP_STARTED: {RUNNING: RUNNING},
    Action.STEP_COMPLETED: {RUNNING: RUNNING, PAUSED: PAUSED, STOPPING: CANCELLED},
    Action.STEP_FAILED: {RUNNING: FAILED, PAUSED: FAILED, STOPPING: FAILED},
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


def run_state(execution_status: str, *, shutdown_requested: bool, is_current: bool, ended_status: str | None) -> State:
    """`execution_status` and `ended_status` are stored values: read back as members here."""
    if not is_current:
        return _state(ended_status) if ended_status else SUPERSEDED
    if shutdown_requested and execution_status in (RUNNING, PAUSED):
        return STOPPING
    return ExecutionStatus(execution_status)


def _state(value: str) -> State:
    return RunState(value) if value in RunState._value2member_map_ else ExecutionStatus(value)


def is_terminal(state: str) -> bool:
    return state in TERMINAL_EXECUTION_STATUSES or state == SUPERSEDED


def allowed(action: Action, state: State) -> State:
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
