"""controlPlane.execution.evidence.export — a verifiable bundle of what a run did."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import AUDIT, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionEvidenceExportInput(ContractModel):
    run_id: ID
    exported_by: ID


class ControlPlaneExecutionEvidenceExportOutput(ContractModel):
    run_id: ID
    evidence_bundle_count: int
    exported_at: Timestamp
    bundle_id: ID
    digest: str


SPEC = define_command(
    meta(
        "controlPlane.execution.evidence.export",
        title="Export Execution Evidence",
        description=(
            "Build and store an evidence bundle of a run: execution, run, plan with its hash, steps, decisions "
            "and events in order, with the SHA-256 of its canonical JSON."
        ),
        goal="Give auditors a bundle they can verify offline, and count the bundles of each run.",
        context="bundleId and digest are project additions; fetch the bundle with the evidenceBundle query.",
        tags=("evidence",),
    ),
    capability=AUDIT,
    input=ControlPlaneExecutionEvidenceExportInput,
    output=ControlPlaneExecutionEvidenceExportOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="exportExecutionEvidence",
    actor_fields=("exported_by",),
)
