"""Execution tally: exact execution counts per (workspace, status, risk tier), kept by the database.

`executions` returns the exact number of executions its filters match. Counted from the execution table, that is
an index range as long as the filter's matches: every execution for an unfiltered page (100,000 index entries at
100,000 executions), most of them for `status: completed`, so the total grew with the table while the page did not.

execution_tally holds signed counts: triggers on execution add (+1, workspace, status, tier) for an insert, (-1, old)
and (+1, new) when one of those columns changes, and (-1, old) for a delete, inside the writing transaction. The sum
over the rows a filter selects is therefore the exact count of the executions it matches in every snapshot. Writers
only insert (no counter row is updated), so concurrent writers never wait for each other on it;
app/services/lifecycle/tally.py folds the rows into one per group from time to time, in one statement that keeps
every sum.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHANGED = "OLD.workspace_id IS DISTINCT FROM NEW.workspace_id OR OLD.status IS DISTINCT FROM NEW.status OR "
_CHANGED += "OLD.risk_tier IS DISTINCT FROM NEW.risk_tier"
_ADD = "INSERT INTO execution_tally (workspace_id, status, risk_tier, n) VALUES ({row}.workspace_id, {row}.status, "
_ADD += "COALESCE({row}.risk_tier, ''), {n});"

SQLITE_TRIGGERS = (
    f"CREATE TRIGGER execution_tally_insert AFTER INSERT ON execution BEGIN {_ADD.format(row='NEW', n=1)} END",
    "CREATE TRIGGER execution_tally_update AFTER UPDATE OF workspace_id, status, risk_tier ON execution "
    f"WHEN {_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} "
    f"BEGIN {_ADD.format(row='OLD', n=-1)} {_ADD.format(row='NEW', n=1)} END",
    f"CREATE TRIGGER execution_tally_delete AFTER DELETE ON execution BEGIN {_ADD.format(row='OLD', n=-1)} END",
)
POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION execution_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_ADD.format(row="NEW", n=1)}
    ELSIF TG_OP = 'DELETE' THEN
        {_ADD.format(row="OLD", n=-1)}
    ELSIF {_CHANGED} THEN
        {_ADD.format(row="OLD", n=-1)}
        {_ADD.format(row="NEW", n=1)}
    END IF;
    RETURN NULL;
END $$
"""
POSTGRESQL_TRIGGER = (
    "CREATE TRIGGER execution_tally AFTER INSERT OR DELETE OR UPDATE OF workspace_id, status, risk_tier "
    "ON execution FOR EACH ROW EXECUTE FUNCTION execution_tally()"
)
BACKFILL = (
    "INSERT INTO execution_tally (workspace_id, status, risk_tier, n) "
    "SELECT workspace_id, status, COALESCE(risk_tier, ''), count(*) FROM execution "
    "GROUP BY workspace_id, status, COALESCE(risk_tier, '')"
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "execution_tally",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("workspace_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("risk_tier", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_execution_tally_workspace", "execution_tally", ["workspace_id", "status", "risk_tier"])
    op.create_index("ix_execution_tally_status", "execution_tally", ["status", "risk_tier"])
    if sqlite:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    else:
        op.execute(POSTGRESQL_FUNCTION)
        op.execute(POSTGRESQL_TRIGGER)
    op.execute(BACKFILL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("execution_tally_insert", "execution_tally_update", "execution_tally_delete"):
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.execute("DROP TRIGGER execution_tally ON execution")
        op.execute("DROP FUNCTION execution_tally()")
    op.drop_index("ix_execution_tally_status", table_name="execution_tally")
    op.drop_index("ix_execution_tally_workspace", table_name="execution_tally")
    op.drop_table("execution_tally")
