"""What other capabilities may use of the lifecycle (tests/unit/test_layers.py allows nothing else).

Audit verifies plans, explains the policy, freezes evidence of runs and shows lanes: it locks what the
lifecycle locks, asks the same state machine and derives lanes the same way as executions show them.
"""

from __future__ import annotations

from app.services.lifecycle.lanes import (
    RunFacts,
    StepFacts,
    StepSummaryFacts,
    lane_key_sql,
    lane_status_sql,
    run_detail,
    run_state_sql,
    run_summary,
    step_facts,
)
from app.services.lifecycle.locking import LockedRun, execution_state, lock_execution, lock_run
from app.services.lifecycle.plans import current_plan
from app.services.lifecycle.policy import POLICY_VERSION, PlanStepView, Policy
from app.services.lifecycle.state_machine import Action, allowed
from app.services.lifecycle.tally import tally_count

__all__ = [
    "POLICY_VERSION",
    "Action",
    "LockedRun",
    "PlanStepView",
    "Policy",
    "RunFacts",
    "StepFacts",
    "StepSummaryFacts",
    "allowed",
    "current_plan",
    "execution_state",
    "lane_key_sql",
    "lane_status_sql",
    "lock_execution",
    "lock_run",
    "run_detail",
    "run_state_sql",
    "run_summary",
    "step_facts",
    "tally_count",
]
