"""Step workspace: execution_step.workspace_id (its execution's, copied), and the inbox's index on it.

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


def downgrade() -> None:
    op.drop_index(INDEX, table_name="execution_step")
    op.drop_column("execution_step", "workspace_id")
