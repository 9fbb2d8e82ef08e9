"""Event log without a global lock: per-execution stream versions, the workspace on each event, and no
event_counter row (positions: app/services/kernel/event_log.py).

Today's `sequence` stays the position of the events already stored; each execution's events get
stream versions 1, 2, 3 ... in that order. On PostgreSQL new positions start at the current
transaction id × 1,000,000, above every stored one (checked here).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSITIONS_PER_TRANSACTION = 1_000_000


def upgrade() -> None:
    with op.batch_alter_table("execution_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stream_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("workspace_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
    op.execute(
        "UPDATE execution_event SET "
        "workspace_id = (SELECT execution.workspace_id FROM execution WHERE execution.id = execution_event.execution_id), "
        "stream_version = (SELECT count(*) FROM execution_event earlier "
        "WHERE earlier.execution_id = execution_event.execution_id AND earlier.sequence <= execution_event.sequence) "
        "WHERE execution_id IS NOT NULL"
    )
    with op.batch_alter_table("execution_event", schema=None) as batch_op:
        batch_op.create_index("ix_execution_event_workspace_sequence", ["workspace_id", "sequence"], unique=False)
        batch_op.create_unique_constraint("uq_execution_event_stream_version", ["execution_id", "stream_version"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        floor = bind.execute(
            sa.text(f"SELECT pg_current_xact_id()::text::bigint * {POSITIONS_PER_TRANSACTION}")
        ).scalar_one()
        highest = bind.execute(sa.text("SELECT coalesce(max(sequence), 0) FROM execution_event")).scalar_one()
        if highest >= floor:
            raise RuntimeError(
                f"the event log's highest position {highest} is not below {floor}, where new positions start; "
                "new events would sort before stored ones"
            )
    op.drop_table("event_counter")


def downgrade() -> None:
    op.create_table(
        "event_counter",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute("INSERT INTO event_counter (name, value) SELECT 'events', coalesce(max(sequence), 0) FROM execution_event")
    with op.batch_alter_table("execution_event", schema=None) as batch_op:
        batch_op.drop_constraint("uq_execution_event_stream_version", type_="unique")
        batch_op.drop_index("ix_execution_event_workspace_sequence")
        batch_op.drop_column("workspace_id")
        batch_op.drop_column("stream_version")
