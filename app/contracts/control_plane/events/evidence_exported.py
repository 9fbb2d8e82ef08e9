"""controlPlane.execution.evidence.exported"""

from __future__ import annotations

from app.contracts.control_plane.constants import AUDIT, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionEvidenceExportedPayload(ContractModel):
    execution_id: ID
    run_id: ID
    bundle_id: ID
    ordinal: int
    digest: str
    exported_at: Timestamp
    exported_by: ID


SPEC = define_event(
    meta(
        "controlPlane.execution.evidence.exported",
        title="Evidence Exported",
        description="An evidence bundle of a run was exported (project addition).",
        goal="Record which bundles exist and their digests, so a bundle can be matched to the log.",
        context="Emitted by exportExecutionEvidence.",
    ),
    capability=AUDIT,
    payload=ControlPlaneExecutionEvidenceExportedPayload,
)
