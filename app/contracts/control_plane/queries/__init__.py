"""Control-plane queries."""

from app.contracts.control_plane.queries import approval_list, contract_list, execution_get, execution_list

ALL = (execution_get.SPEC, execution_list.SPEC, approval_list.SPEC, contract_list.SPEC)
