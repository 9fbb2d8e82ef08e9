"""Control-plane events: appended to the event log (audit and outbox)."""

from app.contracts.control_plane.events import (
    execution_completed,
    execution_failed,
    intent_received,
    plan_compiled,
    plan_rejected,
    skill_installed,
    skill_rejected,
    step_approved,
    step_blocked,
    step_completed,
    step_started,
)

ALL = (
    intent_received.SPEC,
    plan_compiled.SPEC,
    plan_rejected.SPEC,
    step_started.SPEC,
    step_blocked.SPEC,
    step_approved.SPEC,
    step_completed.SPEC,
    execution_completed.SPEC,
    execution_failed.SPEC,
    skill_installed.SPEC,
    skill_rejected.SPEC,
)
