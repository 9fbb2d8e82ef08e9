"""The lane an execution is on, derived from its status and its steps (never typed in)."""

from __future__ import annotations

from app.contracts.control_plane.shared import TERMINAL_EXECUTION_STATUSES, ControlPlaneExecutionLaneState

# status -> (lane key, lane status, owner role)
_LANES: dict[str, tuple[str, str, str]] = {
    "pending": ("plan", "active", "planner"),
    "running": ("execute", "active", "runner"),
    "paused": ("execute", "blocked", "operator"),
    "awaiting_approval": ("review", "blocked", "approver"),
}
_NEXT: dict[str, str | None] = {"plan": "execute", "review": "execute", "complete": None}


def lane_state(status: str, pending_approval_count: int) -> ControlPlaneExecutionLaneState:
    if status in TERMINAL_EXECUTION_STATUSES:
        key, lane_status, owner = "complete", "done", "auditor"
    else:
        key, lane_status, owner = _LANES.get(status, ("plan", "active", "planner"))
    next_lane = ("review" if pending_approval_count else "complete") if key == "execute" else _NEXT[key]
    return ControlPlaneExecutionLaneState(
        lane_key=key,
        lane_status=lane_status,
        lane_phase=status,
        owner_role=owner,
        pending_approval_count=pending_approval_count,
        recommended_next_lane=next_lane,
    )
