"""The lifecycle table (app/services/state_machine.py): what each command or runner report is allowed
from, the CONFLICT it answers otherwise, the state of a run, and the README rendering of the table."""

from __future__ import annotations

import pytest

from app.contracts.control_plane import build_registry
from app.contracts.control_plane.statuses import TERMINAL_EXECUTION_STATUSES, ExecutionStatus, RunState
from app.errors import Conflict
from app.services.audit.trace import TRACE_STATUS, stage_of
from app.services.lifecycle.lanes import STATE_LANES
from app.services.lifecycle.state_machine import (
    AWAITING,
    NOTES,
    STOPPING,
    TRANSITIONS,
    Action,
    State,
    allowed,
    is_terminal,
    markdown_table,
    run_state,
)

STATES: tuple[State, ...] = (*ExecutionStatus, *RunState)
"""Every state a run can be in."""

EXPECTED = {
    Action.COMPILE: {"pending": "pending"},
    Action.VERIFY: {"pending": "pending"},
    Action.START: {"pending": "running"},
    Action.PAUSE: {"running": "paused", AWAITING: "paused"},
    Action.RESUME: {"paused": "running"},
    Action.CANCEL: {
        "pending": "cancelled",
        "running": "cancelled",
        AWAITING: "cancelled",
        "paused": "cancelled",
        STOPPING: "cancelled",
    },
    Action.ABORT: {"running": "aborted", AWAITING: "aborted", "paused": "aborted", STOPPING: "aborted"},
    Action.SHUTDOWN: {"running": STOPPING, AWAITING: "cancelled", "paused": STOPPING},
    Action.RETRY: {"failed": "running"},
    Action.STEP_STARTED: {"running": "running"},
    Action.STEP_COMPLETED: {"running": "running", "paused": "paused", STOPPING: "cancelled"},
    Action.STEP_FAILED: {"running": "failed", "paused": "failed", STOPPING: "failed"},
}


def test_the_table_is_the_documented_one() -> None:
    assert {action: dict(targets) for action, targets in TRANSITIONS.items()} == EXPECTED
    assert set(TRANSITIONS) == set(Action)


def test_every_state_of_the_table_is_a_known_state() -> None:
    for targets in TRANSITIONS.values():
        for source, target in targets.items():
            assert source in STATES
            assert target in STATES
    assert set(STATE_LANES) == set(STATES)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("state", STATES)
def test_allowed_answers_the_target_or_conflict_naming_the_state(action: Action, state: State) -> None:
    expected = EXPECTED[action].get(state)
    if expected is not None:
        assert allowed(action, state) == expected
        return
    with pytest.raises(Conflict) as excinfo:
        allowed(action, state)
    error = excinfo.value
    assert error.extensions == {"code": "CONFLICT", "currentStatus": state}
    assert action.value in error.message
    assert repr(state) in error.message
    for source in EXPECTED[action]:
        assert f"{source}" in error.message.split("allowed from:", 1)[1]


@pytest.mark.parametrize("state", [*TERMINAL_EXECUTION_STATUSES, "superseded"])
def test_nothing_but_retry_of_a_failed_run_leaves_an_ended_state(state: str) -> None:
    possible = [action for action in Action if state in TRANSITIONS[action]]
    assert possible == ([Action.RETRY] if state == "failed" else [])


def test_operators_never_move_a_step_forward() -> None:
    # Runner reports are the only actions from stopping besides cancel and abort.
    from_stopping = {action for action in Action if STOPPING in TRANSITIONS[action]}
    assert from_stopping == {Action.CANCEL, Action.ABORT, Action.STEP_COMPLETED, Action.STEP_FAILED}


@pytest.mark.parametrize(
    ("status", "shutdown", "current", "ended", "state"),
    [
        ("running", False, True, None, "running"),
        ("running", True, True, None, STOPPING),
        ("paused", True, True, None, STOPPING),
        ("paused", False, True, None, "paused"),
        # A shutdown request does not hide a state a run cannot stop from.
        (AWAITING, True, True, None, AWAITING),
        ("completed", True, True, None, "completed"),
        ("pending", False, True, None, "pending"),
        # A run that is no longer the execution's current one keeps what it ended as.
        ("running", False, False, "superseded", "superseded"),
        ("running", False, False, None, "superseded"),
        ("completed", True, False, "failed", "failed"),
    ],
)
def test_run_state(status: str, shutdown: bool, current: bool, ended: str | None, state: str) -> None:
    assert run_state(status, shutdown_requested=shutdown, is_current=current, ended_status=ended) == state


def test_terminal_states() -> None:
    assert {state for state in STATES if is_terminal(state)} == {*TERMINAL_EXECUTION_STATUSES, "superseded"}


def test_markdown_table_lists_every_action() -> None:
    table = markdown_table()
    lines = table.splitlines()
    assert lines[0] == "| command or report | allowed from | leads to |"
    assert lines[1] == "| --- | --- | --- |"
    assert len(lines) == 2 + len(Action)
    for action, line in zip(TRANSITIONS, lines[2:], strict=True):
        assert line.startswith(f"| `{action.value}` | ")
        assert line.count("|") == 4
        for source, target in TRANSITIONS[action].items():
            assert f"`{source}`" in line.split("|")[2]
            assert f"`{target}`" in line.split("|")[3]
        note = NOTES.get(action)
        if note:
            assert f"({note})" in line


def test_markdown_table_groups_sources_by_target() -> None:
    rows = {row.split("|")[1].strip(): row.split("|")[3].strip() for row in markdown_table().splitlines()[2:]}
    assert rows["`shutdownExecution`"].startswith(
        "`stopping` from `running`, `paused`; `cancelled` from `awaiting_approval`"
    )
    assert rows["`reportStepCompleted`"].startswith(
        "`running` from `running`; `paused` from `paused`; `cancelled` from `stopping`"
    )
    assert rows["`pauseExecution`"] == "`paused`"


def test_every_trace_status_key_is_a_registered_event() -> None:
    registered = {spec.key for spec in build_registry().events}
    assert set(TRACE_STATUS) <= registered
    # And every lifecycle event has a trace status (resumed reads its status from the payload).
    lifecycle = {spec.key for spec in build_registry().events if not spec.key.startswith("controlPlane.skill.")}
    assert lifecycle - set(TRACE_STATUS) == {"controlPlane.execution.resumed"}


def test_trace_stages() -> None:
    assert stage_of("controlPlane.execution.step.started") == "step.started"
    assert stage_of("controlPlane.execution.completed") == "execution.completed"
    assert stage_of("controlPlane.plan.compiled") == "plan.compiled"
    assert stage_of("controlPlane.intent.received") == "intent.received"
    assert stage_of("controlPlane.execution.evidence.exported") == "evidence.exported"
