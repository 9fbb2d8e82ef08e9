"""controlPlane.approval.policy — the approval rules in force (project addition)."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.approval import ControlPlaneApprovalRule
from app.contracts.control_plane.constants import APPROVAL, meta
from app.contracts.model import define_query
from app.contracts.types import ContractModel


class ControlPlaneApprovalPolicyInput(ContractModel):
    """No input: the server has one approval policy."""


class ControlPlaneApprovalPolicyOutput(ContractModel):
    policy_version: str
    digest: str
    """`sha256:` + SHA-256 of the policy's RFC 8785 form: two servers with the same digest apply the same rules."""
    rules: list[ControlPlaneApprovalRule]
    """Tried in order; the first that matches a step governs it."""


SPEC = define_query(
    meta(
        "controlPlane.approval.policy",
        title="Approval Policy",
        description="The approval policy in force: its version, digest and rules in the order they are tried.",
        goal="Let operators see who may decide which steps, how many must agree and what happens at the deadline.",
        context="Studio shows it beside a request; a rule stored with an open request may be of an older version.",
        tags=("approval",),
    ),
    capability=APPROVAL,
    input=ControlPlaneApprovalPolicyInput,
    output=ControlPlaneApprovalPolicyOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="approvalPolicy",
)
