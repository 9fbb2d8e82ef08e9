"""controlPlane.execution.evidence.get — an exported evidence bundle, for offline verification."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import AUDIT, meta
from app.contracts.model import define_query
from app.contracts.types import ID, ContractModel, JSONObject, Timestamp


class ControlPlaneExecutionEvidenceGetInput(ContractModel):
    run_id: ID
    bundle_id: ID | None = None


class ControlPlaneExecutionEvidenceGetOutput(ContractModel):
    bundle_id: ID
    run_id: ID
    execution_id: ID
    ordinal: int
    digest: str
    bundle: JSONObject
    exported_by: ID
    exported_at: Timestamp


SPEC = define_query(
    meta(
        "controlPlane.execution.evidence.get",
        title="Get Evidence Bundle",
        description="An evidence bundle of a run (the latest when bundleId is absent) with its digest.",
        goal="Let an auditor verify a bundle offline: digest = sha256 of the bundle's canonical JSON.",
        context=(
            "Canonical JSON: object keys sorted by code point, no whitespace, UTF-8, numbers as JSON.stringify "
            "prints them (the bundle holds no floats the server made)."
        ),
        tags=("evidence",),
    ),
    capability=AUDIT,
    input=ControlPlaneExecutionEvidenceGetInput,
    output=ControlPlaneExecutionEvidenceGetOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="evidenceBundle",
)
