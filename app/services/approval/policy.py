"""approvalPolicy: the rules in force, with their version and digest."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.queries.approval_policy import (
    ControlPlaneApprovalPolicyInput,
    ControlPlaneApprovalPolicyOutput,
)
from app.services.approval.rules import ApprovalPolicy


class PolicyReader:
    def __init__(self, policy: ApprovalPolicy) -> None:
        self._output = ControlPlaneApprovalPolicyOutput(
            policy_version=policy.version, digest=policy.digest, rules=list(policy.rules)
        )

    async def get_policy(
        self, session: AsyncConnection, principal: Principal | None, data: ControlPlaneApprovalPolicyInput
    ) -> ControlPlaneApprovalPolicyOutput:
        return self._output
