"""Control-plane commands (GraphQL mutations)."""

from app.contracts.control_plane.commands import approve, reject, skill_disable, skill_install

ALL = (reject.SPEC, approve.SPEC, skill_install.SPEC, skill_disable.SPEC)
