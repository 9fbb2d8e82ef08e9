"""Control-plane queries."""

from app.contracts.control_plane.queries import (
    approval_list,
    contract_list,
    execution_get,
    execution_list,
    skill_list,
    skill_verify,
)

ALL = (
    execution_get.SPEC,
    execution_list.SPEC,
    approval_list.SPEC,
    contract_list.SPEC,
    skill_verify.SPEC,
    skill_list.SPEC,
)
