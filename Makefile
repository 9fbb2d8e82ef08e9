# The two commands of the Quick start: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PG_ADMIN_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/control_plane

.PHONY: install serve serve-pg test lint typecheck pytest pytest-sqlite pytest-postgresql schema bench bench-pg bench-lifecycle bench-approval bench-reads bench-webhooks bench-live bench-smoke clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(INSTALLED)

serve: install
	$(BIN)/python -m app serve

# The same server on the local PostgreSQL (database control_plane, created when missing).
serve-pg: install
	@psql "$(PG_ADMIN_URL)" -tAc "SELECT 1 FROM pg_database WHERE datname = 'control_plane'" | grep -q 1 \
		|| psql "$(PG_ADMIN_URL)" -qc "CREATE DATABASE control_plane"
	DATABASE_URL=$(PG_URL) $(BIN)/python -m app serve

test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check app tests bench scripts
	$(BIN)/ruff format --check app tests bench scripts

typecheck: install
	$(BIN)/mypy

# The whole suite on SQLite, then again on PostgreSQL when a server answers at TEST_POSTGRES_URL.
# REQUIRE_POSTGRES=1 (set by .ci/run) turns a missing server into a failure instead of a notice.
pytest: pytest-sqlite pytest-postgresql

pytest-sqlite: install
	$(BIN)/pytest --db sqlite

pytest-postgresql: install
	@if $(BIN)/python -m tests.databases ping; then \
		$(BIN)/pytest --db postgresql; \
	elif [ "$${REQUIRE_POSTGRES:-0}" = "1" ]; then \
		echo "error: PostgreSQL is required (REQUIRE_POSTGRES=1) but does not answer" >&2; exit 1; \
	else \
		echo "notice: no PostgreSQL server answers, so the suite ran on SQLite only (see README, Tests)"; \
	fi

schema: install
	$(BIN)/python -m app export-schema

# The benchmarks (bench/README.md). BENCH_ARGS passes options, e.g. `make bench BENCH_ARGS=--smoke` for about a
# second of load on tiny data; `make bench-smoke` runs every smoke mode (as `make test` does, in
# tests/e2e/test_bench_smoke.py). Exit 1 only when a bench could not measure (check not ok, errors, no server).
bench: install
	$(BIN)/python -m bench.reject $(BENCH_ARGS)

# PostgreSQL scale-out: 1 vs 2 server processes, and SQLite vs PostgreSQL (needs the local server).
bench-pg: install
	$(BIN)/python -m bench.scale $(BENCH_ARGS)

# Whole execution lifecycles, 16 at a time, on SQLite (python -m bench.lifecycle --database-url for PostgreSQL).
bench-lifecycle: install
	$(BIN)/python -m bench.lifecycle $(BENCH_ARGS)

# Decisions under a 2-approval rule vs today's single approval, alternating rounds on SQLite.
bench-approval: install
	$(BIN)/python -m bench.approval $(BENCH_ARGS)

# Reads at 1k and 100k executions on SQLite and PostgreSQL with wrk (apt-get install -y wrk): the issue-15 table.
bench-reads: install
	$(BIN)/python -m bench.reads $(BENCH_ARGS)

# Webhook deliveries per second to a local receiver with 10 endpoints, and the lag at a sustained rate (SQLite).
bench-webhooks: install
	$(BIN)/python -m bench.webhooks $(BENCH_ARGS)

# Live fan-out: 1,000 WebSocket subscribers on approvalQueue and a burst of 100 decisions (SQLite).
bench-live: install
	$(BIN)/python -m bench.live $(BENCH_ARGS)

bench-smoke: install
	$(BIN)/python -m bench.reject --smoke
	$(BIN)/python -m bench.approval --smoke
	$(BIN)/python -m bench.reads --smoke
	$(BIN)/python -m bench.scale --smoke
	$(BIN)/python -m bench.lifecycle --smoke
	$(BIN)/python -m bench.webhooks --smoke
	$(BIN)/python -m bench.live --smoke

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache test-artifacts
