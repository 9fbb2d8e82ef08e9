"""Execution tally: indexes that hold the counts, so that a total is read from an index however large the table grew.

A total of `executions` (and of `executionLanes`, whose current runs are the granted executions less those without
a run) sums the tally's rows for a filter: a few rows per group after a fold. But the table keeps the size of its
largest burst: a bulk load or a busy interval between folds inserts one row per change, the fold deletes them, and
PostgreSQL's heap keeps those pages (VACUUM frees them for reuse but cannot give back pages before the live rows).
After 100,000 executions were loaded, the unfiltered sum read ~800 mostly empty heap pages (1.4 ms) for 40 rows.
With `n` in both indexes every sum is an index range (covering on SQLite; an index-only scan on PostgreSQL), whose
dead entries PostgreSQL's B-tree removes as it goes.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "ix_execution_tally_workspace": ["workspace_id", "status", "risk_tier"],
    "ix_execution_tally_status": ["status", "risk_tier"],
}


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.drop_index(name, table_name="execution_tally")
        op.create_index(name, "execution_tally", [*columns, "n"])


def downgrade() -> None:
    for name, columns in _INDEXES.items():
        op.drop_index(name, table_name="execution_tally")
        op.create_index(name, "execution_tally", columns)
