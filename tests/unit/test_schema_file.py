from pathlib import Path

from app.graphql.sdl import printed_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_schema_graphql_matches_the_contracts():
    committed = SCHEMA_FILE.read_text()
    assert committed == printed_schema(), (
        "schema.graphql differs from the schema generated from the contracts; "
        "regenerate it with: python -m app export-schema (or make schema)"
    )


def test_schema_declares_every_operation_with_its_input_and_output():
    sdl = printed_schema()
    assert "rejectExecutionStep(input: ControlPlaneExecutionRejectInput!): ControlPlaneExecutionRejectOutput!" in sdl
    assert "approveExecutionStep(input: ControlPlaneExecutionApproveInput!): ControlPlaneExecutionApproveOutput!" in sdl
    assert "pendingApprovals(input: ControlPlaneApprovalListInput!): ControlPlaneApprovalListOutput!" in sdl
    assert "execution(input: ControlPlaneExecutionGetInput!): ControlPlaneExecutionGetOutput!" in sdl
    assert "executions(input: ControlPlaneExecutionListInput!): ControlPlaneExecutionListOutput!" in sdl
    assert "contracts(input: ControlPlaneContractListInput!): ControlPlaneContractListOutput!" in sdl
