"""The demo data set: scenarios read from `seeds/*.toml`, played through the real lifecycle (player.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from app.contracts.control_plane.statuses import RiskTier
from app.contracts.types import ID, Timestamp


class _Seed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the demo data set: scenarios ------------------------------------------------------------------


class ScenarioStep(_Seed):
    key: str = Field(min_length=1, max_length=200)
    risk_tier: RiskTier | None = None
    input: dict[str, object] | None = None


Action = str | dict[str, str]
"""`compile`, `verify`, `start`, `begin` (runner starts the next step), `complete` (begin if needed, then
complete it), `approve`, `pause`, `resume`, `retry`, `export`, or a table with one entry:
`{fail = "CODE: message"}`, `{reject = "reason"}`, `{approve = "note"}`, `{cancel = "reason"}`,
`{abort = "reason"}`, `{shutdown = "reason"}`, `{pause = "reason"}`."""


class Scenario(_Seed):
    """One execution, played from submitIntent on. Ids are derived from `name`: exec-<name>,
    int-<name>, plan-<name>, run-<name>-<attempt>, step-<name>-<position>."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)
    workspace: ID
    text: str = Field(min_length=1, max_length=10_000)
    channel: str | None = None
    submitted_by: ID = "sam"
    operator: ID = "dana"
    runner: ID = "runner-1"
    at: Timestamp
    every_seconds: int = Field(default=30, ge=1)
    steps: list[ScenarioStep] | None = None
    actions: list[Action] = []


APPROVAL_POLICY_FILE = "approval-policy.json"
"""The approval policy the scenarios of a seed directory are played under (when the directory has one)."""


class DemoDataset(_Seed):
    scenarios: list[Scenario] = []
    approval_policy_file: Path | None = None
    """Requests the scenarios open keep these terms, whatever policy the server runs later."""


def read_scenarios(directory: Path) -> DemoDataset:
    """Every `*.toml` file of a directory, in name order, as one data set."""
    scenarios: list[Scenario] = []
    for path in sorted(directory.glob("*.toml")):
        with path.open("rb") as handle:
            scenarios.extend(DemoDataset.model_validate(tomllib.load(handle)).scenarios)
    names = [scenario.name for scenario in scenarios]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"seed scenarios named more than once: {', '.join(duplicates)}")
    policy = directory / APPROVAL_POLICY_FILE
    return DemoDataset(scenarios=scenarios, approval_policy_file=policy if policy.is_file() else None)
