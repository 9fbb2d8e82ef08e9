"""controlPlane.identity.viewer"""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_query
from app.contracts.types import ID, ContractModel


class ControlPlaneIdentityViewerInput(ContractModel):
    """No input: the caller is the bearer token."""


class ControlPlaneIdentityViewerOutput(ContractModel):
    """Who the server thinks the caller is."""

    principal_id: ID
    roles: list[str]
    auth_level: str
    """The highest of the roles' levels: user, runner or admin (anonymous for a token without a known role)."""
    workspaces: list[ID]
    """The workspaces the token grants, sorted; empty with `allWorkspaces`."""
    all_workspaces: bool
    """The token grants every workspace (`"workspaces": ["*"]`)."""


SPEC = define_query(
    meta(
        "controlPlane.identity.viewer",
        title="Viewer",
        description="Who the server thinks the caller is: principal id, roles, authority level and workspace grants.",
        goal="Let a front end show the signed-in operator and the workspaces they can see.",
        context="Studio shows it in its header; scripts use it to check a token before acting.",
    ),
    capability=CORE,
    input=ControlPlaneIdentityViewerInput,
    output=ControlPlaneIdentityViewerOutput,
    auth=AuthLevel.USER,
    graphql_name="viewer",
)
