"""viewer: the caller as the server sees it (no database)."""

from __future__ import annotations

from app.auth import Principal
from app.contracts.control_plane.queries.viewer import (
    ControlPlaneIdentityViewerInput,
    ControlPlaneIdentityViewerOutput,
)


async def get_viewer(
    _session: object, principal: Principal | None, _data: ControlPlaneIdentityViewerInput
) -> ControlPlaneIdentityViewerOutput:
    assert principal is not None  # the contract needs a user
    return ControlPlaneIdentityViewerOutput(
        principal_id=principal.id,
        roles=sorted(principal.roles),
        auth_level=principal.level.label,
        workspaces=sorted(principal.workspaces),
        all_workspaces=principal.all_workspaces,
    )
