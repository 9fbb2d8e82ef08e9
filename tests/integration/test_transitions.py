"""Every transition of the state machine, from every state an execution can reach.

The cases are derived from `TRANSITIONS` itself: for each state below and each action, the action must
succeed and land in the table's target state when the table lists the state as a source, and must answer
CONFLICT naming the state (leaving the database untouched) when it does not. Where the outcome depends on
more than the run's state (no plan yet, the plan's verdict, whether a step is running), the case says so
in `REFUSED_ANYWAY` or `SETTLED` with the reason.

To keep some 200 cases cheap, the module shares one database and one app (the fixtures below override
conftest's per-test ones): every case drives executions of its own, so cases never see each other's
rows, and a refused case, which must leave the database exactly as it was, reuses one execution per state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.contracts.control_plane.commands import (
    execution_abort,
    execution_cancel,
    execution_pause,
    execution_resume,
    execution_retry,
    execution_shutdown,
    execution_start,
    plan_compile,
    plan_verify,
    step_completed,
    step_failed,
    step_started,
)
from app.contracts.control_plane.events import (
    execution_aborted,
    execution_cancelled,
    execution_paused,
    execution_resumed,
    execution_retried,
    execution_shutdown_requested,
    execution_started,
    plan_compiled,
    plan_rejected,
    plan_verified,
)
from app.contracts.control_plane.events import step_completed as step_completed_event
from app.contracts.control_plane.events import step_failed as step_failed_event
from app.contracts.control_plane.events import step_started as step_started_event
from app.contracts.control_plane.statuses import ExecutionStatus, RunState
from app.services.lifecycle.state_machine import AWAITING, NOTES, STOPPING, TRANSITIONS, Action, State
from app.testing import documents as docs
from tests.conftest import snapshot
from tests.integration.helpers import app_per_module, events, failing
from tests.integration.lifecycle import THREE_STEPS, Lifecycle

TWO_STEPS = {"steps": [{"key": "build.artifact", "input": {"ref": "main"}}, {"key": "notify.team"}]}
"""Two medium steps: verifyPlan approves it and no step waits for a decision."""
GATED = {"steps": [{"key": "deploy.production"}, {"key": "notify.team"}]}
"""The first step is high risk: the run starts awaiting approval."""
ONE_STEP = {"steps": [{"key": "build.artifact"}]}
UNKNOWN_ACTION = {"steps": [{"key": "frobnicate.widget"}]}
"""No action the policy knows: verifyPlan rejects the plan."""
REPLACEMENT = {"steps": [{"key": "read.config", "input": {"path": "/etc/app"}}]}

OPEN_STEP_STATUSES = ("pending", AWAITING, "approved")


pytestmark = pytest.mark.asyncio(loop_scope="module")


database_url, settings, app = app_per_module("transitions")


@pytest.fixture(scope="module")
def unchanged_scenes() -> dict[str, Any]:
    """States built for refused cases, one execution per state, shared by the cases of that state."""
    return {}


@pytest.fixture
def life(execute, token) -> Lifecycle:
    return Lifecycle(execute=execute, admin=token("dana"), runner=token("rita", "runner"), approver=token("erin"))


# --- the states ------------------------------------------------------------------------------------


@dataclass
class Scene:
    """An execution in a known state; `life.run_id` is the run the run-addressed actions name."""

    life: Lifecycle
    running: int | None = None
    """Position of the step running in that run, if any."""


async def cancel(life: Lifecycle) -> dict[str, Any]:
    return await life.call(docs.CANCEL, {"executionId": life.execution_id, "cancelledBy": life.admin_id})


async def pending_no_plan(life: Lifecycle) -> Scene:
    await life.submit()
    return Scene(life)


async def pending_compiled(life: Lifecycle) -> Scene:
    await life.submit()
    await life.compile(TWO_STEPS)
    return Scene(life)


async def pending_verified(life: Lifecycle) -> Scene:
    await life.prepared(TWO_STEPS)
    return Scene(life)


async def pending_plan_rejected(life: Lifecycle) -> Scene:
    await life.prepared(UNKNOWN_ACTION)
    return Scene(life)


async def running(life: Lifecycle) -> Scene:
    await life.started(TWO_STEPS)
    return Scene(life)


async def running_step(life: Lifecycle) -> Scene:
    await life.started(TWO_STEPS)
    await life.report(docs.STEP_STARTED, 1)
    return Scene(life, running=1)


async def awaiting(life: Lifecycle) -> Scene:
    await life.started(GATED)
    return Scene(life)


async def paused(life: Lifecycle) -> Scene:
    await life.started(TWO_STEPS)
    await life.control(docs.PAUSE, "pausedBy")
    return Scene(life)


async def paused_step(life: Lifecycle) -> Scene:
    scene = await running_step(life)
    await life.control(docs.PAUSE, "pausedBy")
    return scene


async def stopping(life: Lifecycle) -> Scene:
    scene = await running_step(life)
    await life.control(docs.SHUTDOWN, "shutdownBy")
    return scene


async def completed(life: Lifecycle) -> Scene:
    await life.started(ONE_STEP)
    await life.run_step(1)
    return Scene(life)


async def failed(life: Lifecycle) -> Scene:
    await running_step(life)
    await life.report(docs.STEP_FAILED, 1, errorCode="BUILD_BROKEN", message="The build broke.")
    return Scene(life)


async def rejected(life: Lifecycle) -> Scene:
    await life.started(GATED)
    await life.reject(1)
    return Scene(life)


async def cancelled(life: Lifecycle) -> Scene:
    await life.started(TWO_STEPS)
    await cancel(life)
    return Scene(life)


async def aborted(life: Lifecycle) -> Scene:
    await life.started(TWO_STEPS)
    await life.control(docs.ABORT, "abortedBy")
    return Scene(life)


async def superseded(life: Lifecycle) -> Scene:
    await failed(life)
    await life.control(docs.RETRY, "retriedBy")  # life.run_id stays the old run
    return Scene(life)


Builder = Callable[[Lifecycle], Awaitable[Scene]]

STATES: dict[str, tuple[State, Builder]] = {
    "pending-no-plan": (ExecutionStatus.PENDING, pending_no_plan),
    "pending-compiled": (ExecutionStatus.PENDING, pending_compiled),
    "pending-verified": (ExecutionStatus.PENDING, pending_verified),
    "pending-plan-rejected": (ExecutionStatus.PENDING, pending_plan_rejected),
    "running": (ExecutionStatus.RUNNING, running),
    "running-step": (ExecutionStatus.RUNNING, running_step),
    "awaiting-approval": (AWAITING, awaiting),
    "paused": (ExecutionStatus.PAUSED, paused),
    "paused-step": (ExecutionStatus.PAUSED, paused_step),
    "stopping": (STOPPING, stopping),
    "completed": (ExecutionStatus.COMPLETED, completed),
    "failed": (ExecutionStatus.FAILED, failed),
    "rejected": (ExecutionStatus.REJECTED, rejected),
    "cancelled": (ExecutionStatus.CANCELLED, cancelled),
    "aborted": (ExecutionStatus.ABORTED, aborted),
    "superseded": (RunState.SUPERSEDED, superseded),
}
"""name -> (the state as TRANSITIONS names it, how to get an execution there)."""

# --- the actions -----------------------------------------------------------------------------------

EXECUTION_ACTIONS = frozenset({Action.COMPILE, Action.VERIFY, Action.START, Action.CANCEL})
"""Addressed by executionId: they act on the execution's current run, so `superseded` is out of their reach."""
# The other actions name a run; before startExecution there is none, so `pending` is out of theirs.

SPECS = {
    Action.COMPILE: plan_compile.SPEC,
    Action.VERIFY: plan_verify.SPEC,
    Action.START: execution_start.SPEC,
    Action.PAUSE: execution_pause.SPEC,
    Action.RESUME: execution_resume.SPEC,
    Action.CANCEL: execution_cancel.SPEC,
    Action.ABORT: execution_abort.SPEC,
    Action.SHUTDOWN: execution_shutdown.SPEC,
    Action.RETRY: execution_retry.SPEC,
    Action.STEP_STARTED: step_started.SPEC,
    Action.STEP_COMPLETED: step_completed.SPEC,
    Action.STEP_FAILED: step_failed.SPEC,
}
CONTROLS = {
    Action.PAUSE: (docs.PAUSE, "pausedBy"),
    Action.RESUME: (docs.RESUME, "resumedBy"),
    Action.ABORT: (docs.ABORT, "abortedBy"),
    Action.SHUTDOWN: (docs.SHUTDOWN, "shutdownBy"),
    Action.RETRY: (docs.RETRY, "retriedBy"),
}
OUTPUT = {"artifact": "app-42.tar"}
ERROR = {"errorCode": "TIMEOUT", "message": "Build farm timed out."}


def contract_of(action: Action) -> dict[str, str]:
    spec = SPECS[action]
    return {"key": spec.key, "version": spec.version}


def reported_position(scene: Scene, action: Action) -> int:
    """The step a runner report names. reportStepStarted: the first step not running (starting the running
    one again is a replay, tested below). The others: the running step, else the first. The output and
    error sent differ from what the state builders reported, so no report repeats an earlier one."""
    if action is Action.STEP_STARTED:
        return 2 if scene.running == 1 else 1
    return scene.running or 1


def request(scene: Scene, action: Action) -> tuple[str, dict[str, Any], str]:  # noqa: PLR0911 - one return per action
    """(document, input, bearer) of `action` on the scene's execution or run."""
    life = scene.life
    if action is Action.COMPILE:
        payload = {"executionId": life.execution_id, "intentId": life.intent_id, "draft": REPLACEMENT}
        return docs.COMPILE, payload, life.admin
    if action is Action.VERIFY:
        return docs.VERIFY, {"executionId": life.execution_id, "planId": life.plan_id or "pln_none"}, life.admin
    if action is Action.START:
        return docs.START, {"executionId": life.execution_id, "planId": life.plan_id or "pln_none"}, life.admin
    if action is Action.CANCEL:
        return docs.CANCEL, {"executionId": life.execution_id, "cancelledBy": life.admin_id}, life.admin
    if action in CONTROLS:
        document, actor_field = CONTROLS[action]
        return document, {"runId": life.run_id, actor_field: life.admin_id}, life.admin
    step = {"runId": life.run_id, "stepId": life.step(reported_position(scene, action))}
    if action is Action.STEP_STARTED:
        return docs.STEP_STARTED, step, life.runner
    if action is Action.STEP_COMPLETED:
        return docs.STEP_COMPLETED, step | {"output": OUTPUT}, life.runner
    return docs.STEP_FAILED, step | ERROR, life.runner


def applicable(state: str, action: Action) -> bool:
    if action in EXECUTION_ACTIONS:
        return state != "superseded"
    return state != "pending"


CASES = [(name, action) for name, (state, _) in STATES.items() for action in TRANSITIONS if applicable(state, action)]


def is_allowed(name: str, action: Action) -> bool:
    return STATES[name][0] in TRANSITIONS[action]


# Allowed by the table, refused for a reason other than the run's state: (code, currentStatus).
REFUSED_ANYWAY: dict[tuple[str, Action], tuple[str, str | None]] = {
    # No plan exists yet: there is nothing to verify or start.
    ("pending-no-plan", Action.VERIFY): ("NOT_FOUND", None),
    ("pending-no-plan", Action.START): ("NOT_FOUND", None),
    # Only a plan verifyPlan approved (or that needs approval) can start.
    ("pending-compiled", Action.START): ("CONFLICT", "unverified"),
    ("pending-plan-rejected", Action.START): ("CONFLICT", "plan_rejected"),
    # A step is running: the next cannot start before it ends; the next step's own status answers.
    ("running-step", Action.STEP_STARTED): ("CONFLICT", "pending"),
    # No step is running, so none can end: the step's own status answers.
    ("running", Action.STEP_COMPLETED): ("CONFLICT", "pending"),
    ("running", Action.STEP_FAILED): ("CONFLICT", "pending"),
    ("paused", Action.STEP_COMPLETED): ("CONFLICT", "pending"),
    ("paused", Action.STEP_FAILED): ("CONFLICT", "pending"),
}
# Allowed, landing elsewhere than the table's usual target (state_machine.NOTES explains each).
SETTLED: dict[tuple[str, Action], str] = {
    ("running", Action.SHUTDOWN): "cancelled",  # no step is running: cancelled at once
    ("paused", Action.SHUTDOWN): "cancelled",
}

ALLOWED = [
    pytest.param(name, action, id=f"{name}-{action.value}")
    for name, action in CASES
    if is_allowed(name, action) and (name, action) not in REFUSED_ANYWAY
]
REFUSED = [
    pytest.param(name, action, id=f"{name}-{action.value}") for name, action in CASES if not is_allowed(name, action)
]
REFUSED_OTHERWISE = [pytest.param(name, action, id=f"{name}-{action.value}") for name, action in REFUSED_ANYWAY]


async def build(name: str, life: Lifecycle) -> Scene:
    scene = await STATES[name][1](life)
    await life.refresh()
    return scene


async def state_of(life: Lifecycle) -> tuple[str, str]:
    """(execution status, state of its current run: the status, or stopping; pending before a run)."""
    record = await life.refresh()
    status = str(record["status"])
    return status, status if status == "pending" else str(record["lane"]["lanePhase"])


async def run_state(life: Lifecycle, run_id: str) -> str:
    return str((await life.call(docs.LANE, {"runId": run_id}))["run"]["lanePhase"])


def expected_steps(before: list[str], action: Action, position: int, target: str) -> list[str]:  # noqa: PLR0911 - one return per action
    def stopped() -> list[str]:
        return ["failed" if s == "running" else "skipped" if s in OPEN_STEP_STATUSES else s for s in before]

    def with_step(status: str) -> list[str]:
        return [status if index == position else s for index, s in enumerate(before, start=1)]

    if action is Action.COMPILE:
        return ["pending"] * len(REPLACEMENT["steps"])
    if action in (Action.CANCEL, Action.ABORT) or (action is Action.SHUTDOWN and target == "cancelled"):
        return stopped()
    if action is Action.RETRY:
        return ["pending" if s == "failed" else s for s in before]
    if action is Action.STEP_STARTED:
        return with_step("running")
    if action is Action.STEP_COMPLETED:
        done = with_step("completed")
        return [("skipped" if s in OPEN_STEP_STATUSES else s) for s in done] if target == "cancelled" else done
    if action is Action.STEP_FAILED:
        return with_step("failed")  # later steps stay pending: retryExecution resumes from the failed one
    return before  # verify, start, pause, resume, shutdown while a step finishes


def expected_event(name: str, action: Action, target: str) -> str:
    """The event the action records."""
    if action is Action.VERIFY and name == "pending-plan-rejected":
        return plan_rejected.SPEC.key
    if action is Action.SHUTDOWN:
        spec = execution_shutdown_requested.SPEC if target == STOPPING else execution_cancelled.SPEC
        return spec.key
    if action is Action.STEP_COMPLETED and target == "cancelled":
        return execution_cancelled.SPEC.key
    if action is Action.STEP_FAILED:
        return step_failed_event.SPEC.key
    return {
        Action.COMPILE: plan_compiled.SPEC.key,
        Action.VERIFY: plan_verified.SPEC.key,
        Action.START: execution_started.SPEC.key,
        Action.PAUSE: execution_paused.SPEC.key,
        Action.RESUME: execution_resumed.SPEC.key,
        Action.CANCEL: execution_cancelled.SPEC.key,
        Action.ABORT: execution_aborted.SPEC.key,
        Action.RETRY: execution_retried.SPEC.key,
        Action.STEP_STARTED: step_started_event.SPEC.key,
        Action.STEP_COMPLETED: step_completed_event.SPEC.key,
    }[action]


def answered_status(action: Action, answer: dict[str, Any]) -> str | None:
    """The status the answer reports (compilePlan and verifyPlan report none)."""
    if action in (Action.COMPILE, Action.VERIFY):
        return None
    return str(answer["executionStatus"] if "executionStatus" in answer else answer["status"])


# --- the table, case by case -----------------------------------------------------------------------


async def test_every_state_and_action_is_covered() -> None:
    # the exceptions name cases the table allows, for the reasons NOTES gives
    assert all(is_allowed(*case) for case in REFUSED_ANYWAY | SETTLED)
    assert all("cancelled at once" in NOTES[action] for _, action in SETTLED)
    assert {STATES[name][0] for name in STATES} >= {s for targets in TRANSITIONS.values() for s in targets}
    assert {action for _, action in CASES} == set(TRANSITIONS)
    assert len(ALLOWED) + len(REFUSED) + len(REFUSED_OTHERWISE) == len(CASES)


@pytest.mark.parametrize(("name", "action"), ALLOWED)
async def test_allowed_action_lands_in_its_target_state(life, database, name, action) -> None:
    scene = await build(name, life)
    target = SETTLED.get((name, action), TRANSITIONS[action][STATES[name][0]])
    before_steps = [step["status"] for step in life.steps]
    before_events = len(await events(database))
    old_run = life.run_id
    document, payload, bearer = request(scene, action)

    answer = await life.call(document, payload, bearer)

    if (answered := answered_status(action, answer)) is not None:
        assert answered == target
    status, state = await state_of(life)
    assert state == target
    # stopping is the run's state, not a status: the execution runs while its last step finishes
    assert status == ("running" if target == STOPPING else target)
    assert [step["status"] for step in life.steps] == expected_steps(
        before_steps, action, reported_position(scene, action), target
    )
    new_events = [row["event_key"] for row in (await events(database))[before_events:]]
    assert expected_event(name, action, target) in new_events
    if action is Action.COMPILE:
        assert answer["planId"] != scene.life.plan_id
        assert [step["key"] for step in life.steps] == [step["key"] for step in REPLACEMENT["steps"]]
    if action is Action.RETRY:
        assert answer["runId"] != old_run
        assert await run_state(life, old_run) == "superseded"
        assert await run_state(life, answer["runId"]) == target
        assert (await life.refresh())["runId"] == answer["runId"]
    elif action is Action.START:
        assert (await life.refresh())["runId"] == answer["runId"]
    elif old_run:
        assert (await life.refresh())["runId"] == old_run  # only retryExecution makes a new run


@pytest.mark.parametrize(("name", "action"), REFUSED)
async def test_refused_action_conflicts_naming_the_state(
    life, execute, database, unchanged_scenes, name, action
) -> None:
    scene = unchanged_scenes.get(name) or await build(name, life)
    scene.life.execute = execute
    state = STATES[name][0]
    document, payload, bearer = request(scene, action)

    try:
        error = await failing(
            execute, database, document, {"input": payload}, expect_contract=contract_of(action), bearer=bearer
        )
    except BaseException:
        unchanged_scenes.pop(name, None)  # it may have changed: the next case builds its own
        raise
    unchanged_scenes[name] = scene

    assert error["extensions"]["code"] == "CONFLICT", error
    assert error["extensions"]["currentStatus"] == state
    assert action.value in error["message"]
    assert repr(state) in error["message"]


@pytest.mark.parametrize(("name", "action"), REFUSED_OTHERWISE)
async def test_allowed_state_refused_for_another_reason(life, execute, database, name, action) -> None:
    scene = await build(name, life)
    code, current = REFUSED_ANYWAY[(name, action)]
    document, payload, bearer = request(scene, action)

    error = await failing(
        execute, database, document, {"input": payload}, expect_contract=contract_of(action), bearer=bearer
    )

    assert error["extensions"]["code"] == code, error
    assert error["extensions"].get("currentStatus") == current


# --- replays and ordering --------------------------------------------------------------------------


async def assert_replayed(life: Lifecycle, database, document: str, position: int, **extra: Any) -> None:
    """The report, sent again, answers exactly as the first time and changes nothing."""
    first = await life.report(document, position, **extra)
    before = await snapshot(database)
    again = await life.report(document, position, **extra)
    assert again == first
    assert await snapshot(database) == before


async def test_step_started_twice_is_one_start(life, database) -> None:
    await life.started(TWO_STEPS)
    await assert_replayed(life, database, docs.STEP_STARTED, 1)
    assert await life.step_statuses() == ["running", "pending"]


async def test_step_completed_twice_with_the_same_output_is_one_completion(life, database) -> None:
    await life.started(THREE_STEPS)
    await life.report(docs.STEP_STARTED, 1)
    await assert_replayed(life, database, docs.STEP_COMPLETED, 1, output=OUTPUT)
    assert await life.step_statuses() == ["completed", AWAITING, "pending"]


async def test_step_completed_again_with_another_output_conflicts(life, execute, database) -> None:
    await life.started(TWO_STEPS)
    await life.run_step(1, output=OUTPUT)
    payload = {"runId": life.run_id, "stepId": life.step(1), "output": {"artifact": "other.tar"}}

    error = await failing(execute, database, docs.STEP_COMPLETED, {"input": payload}, bearer=life.runner)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "completed"


async def test_last_step_completed_twice_keeps_the_execution_completed(life, database) -> None:
    await life.started(ONE_STEP)
    await life.report(docs.STEP_STARTED, 1)
    await assert_replayed(life, database, docs.STEP_COMPLETED, 1)
    assert await life.status() == "completed"


async def test_step_failed_twice_with_the_same_error_is_one_failure(life, database) -> None:
    await life.started(TWO_STEPS)
    await life.report(docs.STEP_STARTED, 1)
    await assert_replayed(life, database, docs.STEP_FAILED, 1, **ERROR)
    assert await life.status() == "failed"


async def test_step_failed_again_with_another_error_conflicts(life, execute, database) -> None:
    await life.started(TWO_STEPS)
    await life.report(docs.STEP_STARTED, 1)
    await life.report(docs.STEP_FAILED, 1, **ERROR)
    payload = {"runId": life.run_id, "stepId": life.step(1), "errorCode": "OOM", "message": "Out of memory."}

    error = await failing(execute, database, docs.STEP_FAILED, {"input": payload}, bearer=life.runner)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "failed"


async def test_starting_a_later_step_out_of_order_conflicts(life, execute, database) -> None:
    await life.started(TWO_STEPS)
    payload = {"runId": life.run_id, "stepId": life.step(2)}

    error = await failing(execute, database, docs.STEP_STARTED, {"input": payload}, bearer=life.runner)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "pending"
    assert "not the next step" in error["message"]


async def test_starting_a_later_step_while_one_runs_conflicts(life, execute, database) -> None:
    await life.started(TWO_STEPS)
    await life.report(docs.STEP_STARTED, 1)
    payload = {"runId": life.run_id, "stepId": life.step(2)}

    error = await failing(execute, database, docs.STEP_STARTED, {"input": payload}, bearer=life.runner)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "pending"


async def test_starting_a_step_that_awaits_approval_conflicts(life, execute, database) -> None:
    await life.started(THREE_STEPS)
    await life.run_step(1)
    assert await life.step_statuses() == ["completed", AWAITING, "pending"]
    payload = {"runId": life.run_id, "stepId": life.step(2)}

    error = await failing(execute, database, docs.STEP_STARTED, {"input": payload}, bearer=life.runner)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == AWAITING


# --- plans -----------------------------------------------------------------------------------------


async def test_compiling_the_same_draft_again_changes_nothing(life, database) -> None:
    await life.submit()
    first = await life.compile(TWO_STEPS)
    before = await snapshot(database)

    again = await life.compile(TWO_STEPS)

    assert again == first
    assert await snapshot(database) == before


async def test_compiling_another_draft_replaces_the_plan_and_its_steps(life) -> None:
    await life.submit()
    first = await life.compile(TWO_STEPS)
    old_steps = (await life.refresh())["steps"]

    second = await life.compile(REPLACEMENT)

    assert second["planId"] != first["planId"]
    assert second["deterministicHash"] != first["deterministicHash"]
    record = await life.refresh()
    assert record["planId"] == second["planId"]
    assert [(s["position"], s["key"], s["status"]) for s in record["steps"]] == [(1, "read.config", "pending")]
    assert not {s["stepId"] for s in old_steps} & {s["stepId"] for s in record["steps"]}


async def test_starting_a_replaced_plan_conflicts_as_superseded(life, execute, database) -> None:
    await life.prepared(TWO_STEPS)
    old_plan = life.plan_id
    await life.compile(REPLACEMENT)
    await life.verify()
    payload = {"executionId": life.execution_id, "planId": old_plan}

    error = await failing(execute, database, docs.START, {"input": payload}, expect_contract=contract_of(Action.START))

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "superseded"


async def test_starting_an_unverified_plan_conflicts(life, execute, database) -> None:
    await life.submit()
    await life.compile(TWO_STEPS)
    payload = {"executionId": life.execution_id, "planId": life.plan_id}

    error = await failing(execute, database, docs.START, {"input": payload})

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "unverified"


async def test_starting_a_rejected_plan_conflicts(life, execute, database) -> None:
    await life.submit()
    await life.compile(UNKNOWN_ACTION)
    verdict = await life.verify()
    assert verdict["verdict"] == "rejected"
    assert any(reason.startswith("UNKNOWN_STEP_KEY") for reason in verdict["blockedReasons"])
    payload = {"executionId": life.execution_id, "planId": life.plan_id}

    error = await failing(execute, database, docs.START, {"input": payload})

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "plan_rejected"


async def test_recompiling_after_verification_needs_a_new_verification(life, execute, database) -> None:
    await life.prepared(TWO_STEPS)
    await life.compile(REPLACEMENT)
    payload = {"executionId": life.execution_id, "planId": life.plan_id}

    error = await failing(execute, database, docs.START, {"input": payload})

    assert error["extensions"]["currentStatus"] == "unverified"


# --- decisions and runs ----------------------------------------------------------------------------


async def test_approving_while_paused_keeps_the_run_paused_until_resumed(life) -> None:
    await life.started(GATED)
    await life.control(docs.PAUSE, "pausedBy")

    await life.approve(1)

    assert await life.status() == "paused"
    assert await life.step_statuses() == ["approved", "pending"]
    resumed = await life.control(docs.RESUME, "resumedBy")
    assert resumed["status"] == "running"
    assert await life.status() == "running"
    started = await life.report(docs.STEP_STARTED, 1)
    assert started["stepStatus"] == "running"


async def test_resuming_while_a_step_awaits_a_decision_gives_awaiting_approval(life) -> None:
    await life.started(GATED)
    await life.control(docs.PAUSE, "pausedBy")

    resumed = await life.control(docs.RESUME, "resumedBy")

    assert resumed["status"] == AWAITING
    assert await life.status() == AWAITING


async def test_retry_keeps_the_approval_of_an_approved_step_that_failed(life) -> None:
    await life.started(GATED)
    await life.approve(1)
    await life.report(docs.STEP_STARTED, 1)
    await life.report(docs.STEP_FAILED, 1, **ERROR)
    first_run = life.run_id

    retried = await life.control(docs.RETRY, "retriedBy")

    assert retried["runId"] != first_run
    assert retried["status"] == "running"
    life.run_id = retried["runId"]
    assert await life.step_statuses() == ["approved", "pending"]
    assert (await life.report(docs.STEP_STARTED, 1))["stepStatus"] == "running"
    done = await life.report(docs.STEP_COMPLETED, 1)
    assert done["executionStatus"] == "running"


async def test_retry_of_an_unapproved_step_resumes_from_the_failed_step(life) -> None:
    await life.started(TWO_STEPS)
    await life.run_step(1)
    await life.report(docs.STEP_STARTED, 2)
    await life.report(docs.STEP_FAILED, 2, **ERROR)

    retried = await life.control(docs.RETRY, "retriedBy")

    life.run_id = retried["runId"]
    assert await life.step_statuses() == ["completed", "pending"]
    assert (await life.run_step(2))["executionStatus"] == "completed"


async def test_a_superseded_run_cannot_be_retried_again(life, execute, database) -> None:
    await failed(life)
    old_run = life.run_id
    await life.control(docs.RETRY, "retriedBy")
    payload = {"runId": old_run, "retriedBy": life.admin_id}

    error = await failing(execute, database, docs.RETRY, {"input": payload})

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "superseded"
