"""Control-plane commands (GraphQL mutations)."""

from app.contracts.control_plane.commands import approve, reject

ALL = (reject.SPEC, approve.SPEC)
