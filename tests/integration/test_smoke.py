import pytest
from gql.transport.exceptions import TransportQueryError

from tests.conftest import error_of, snapshot

REJECT = """
mutation Reject($input: ControlPlaneExecutionRejectInput!) {
  rejectExecutionStep(input: $input) { executionId stepId status rejectedAt }
}
"""


async def test_reject_happy_path(execute, database):
    data = await execute(
        REJECT,
        {"input": {"executionId": "exec-acme-deploy-42", "stepId": "step-acme-deploy-42-3", "rejectedBy": "dana", "reason": "Not during the freeze."}},
    )
    assert data["rejectExecutionStep"]["status"] == "rejected"


async def test_unknown_execution_changes_nothing(execute, database):
    before = await snapshot(database)
    with pytest.raises(TransportQueryError) as excinfo:
        await execute(REJECT, {"input": {"executionId": "nope", "stepId": "x", "rejectedBy": "dana", "reason": "r"}})
    assert error_of(excinfo)["extensions"]["code"] == "NOT_FOUND"
    assert await snapshot(database) == before
