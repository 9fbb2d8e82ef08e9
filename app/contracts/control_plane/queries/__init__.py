"""Control-plane queries."""

from app.contracts.control_plane.queries import (
    approval_list,
    contract_list,
    evidence_get,
    execution_get,
    execution_list,
    lane_get,
    lane_list,
    policy_explain,
    skill_list,
    skill_verify,
    trace_get,
)

ALL = (
    execution_get.SPEC,
    execution_list.SPEC,
    approval_list.SPEC,
    trace_get.SPEC,
    policy_explain.SPEC,
    lane_get.SPEC,
    lane_list.SPEC,
    evidence_get.SPEC,
    contract_list.SPEC,
    skill_verify.SPEC,
    skill_list.SPEC,
)
