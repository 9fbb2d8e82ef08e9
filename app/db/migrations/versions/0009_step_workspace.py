"""Step workspace: execution_step.workspace_id (its execution's, copied) and the inbox's index on it; lane indexes
that cover the executionLanes filters.

pendingApprovals filtered steps awaiting approval by their execution's workspace (a join), so a workspace page
walked every step awaiting approval in awaiting_since order and looked each one's execution up, and its count did
the same for all of them. The step now carries its execution's workspace (written with the step; an execution
never changes workspace; `python -m app check` reports a step whose copy differs), and
ix_execution_step_status_workspace_awaiting (status, workspace_id, awaiting_since, id) makes a workspace's or a
grant list's page and exact count ranges of one index.

The column is NOT NULL, as execution.workspace_id is. PostgreSQL: added nullable, filled from the execution, then
SET NOT NULL. SQLite cannot add a NOT NULL column without a default, and changing it afterwards would rebuild the
table (which foreign keys from decisions and votes forbid inside the migration's transaction): it is added with
DEFAULT '' (no writer relies on it: every insert names the workspace) and filled from the execution.

executionLanes(laneKey | laneStatus): the current runs are the executions with a run (run_id IS NOT NULL) in the
lane. 0006's (lane_key, updated_at) and (lane_status, updated_at) found them but held no run id, so the exact count
and the page read every matching execution row (1,000 heap rows for laneStatus: blocked at 100,000 executions,
7,000 for laneKey: execute) to test run_id. The indexes now end with run_id: the count and the page's run ids are
read from the index alone (covering on SQLite; an index-only scan on PostgreSQL once the table is vacuumed).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_execution_step_status_workspace_awaiting"
LANE_INDEXES = (
    ("ix_execution_lane_key_updated", "ix_execution_lane_key_updated_run", "lane_key"),
    ("ix_execution_lane_status_updated", "ix_execution_lane_status_updated_run", "lane_status"),
)
BACKFILL = (
    "UPDATE execution_step SET workspace_id = "
    "(SELECT execution.workspace_id FROM execution WHERE execution.id = execution_step.execution_id)"
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    column_type = sqlmodel.sql.sqltypes.AutoString(length=128)
    if sqlite:
        op.add_column(
            "execution_step", sa.Column("workspace_id", column_type, nullable=False, server_default=sa.text("''"))
        )
        op.execute(BACKFILL)
    else:
        op.add_column("execution_step", sa.Column("workspace_id", column_type, nullable=True))
        op.execute(BACKFILL)
        op.alter_column("execution_step", "workspace_id", existing_type=column_type, nullable=False)
    op.create_index(INDEX, "execution_step", ["status", "workspace_id", "awaiting_since", "id"], unique=False)
    for old, new, column in LANE_INDEXES:
        op.create_index(new, "execution", [column, "updated_at", "run_id"], unique=False)
        op.drop_index(old, table_name="execution")


def downgrade() -> None:
    for old, new, column in reversed(LANE_INDEXES):
        op.create_index(old, "execution", [column, "updated_at"], unique=False)
        op.drop_index(new, table_name="execution")
    op.drop_index(INDEX, table_name="execution_step")
    op.drop_column("execution_step", "workspace_id")
