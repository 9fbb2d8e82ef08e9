"""Indexes for the decision path and the invariant checker.

execution_step (execution_id, status): "does another step of this execution await a decision?"
(approve, the checker) without scanning every awaiting step of every execution.
execution_event (step_id, event_key): the checker counts each decided step's events; without it
`python -m app check` grew with rejections x events and hit the statement timeout on large data.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("execution_step", schema=None) as batch_op:
        batch_op.create_index("ix_execution_step_execution_status", ["execution_id", "status"], unique=False)
    with op.batch_alter_table("execution_event", schema=None) as batch_op:
        batch_op.create_index("ix_execution_event_step_key", ["step_id", "event_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("execution_event", schema=None) as batch_op:
        batch_op.drop_index("ix_execution_event_step_key")
    with op.batch_alter_table("execution_step", schema=None) as batch_op:
        batch_op.drop_index("ix_execution_step_execution_status")
