"""Who is calling: a principal, its authority level and its workspace grants."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

ALL_WORKSPACES = "*"
"""The grant of every workspace (`"workspaces": ["*"]`)."""


class AuthLevel(IntEnum):
    """Ordered: a principal at a level may call every contract at or below it."""

    ANONYMOUS = 0
    USER = 1
    RUNNER = 2
    """Workers that execute steps and report on them; an admin may report too."""
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, label: str) -> AuthLevel:
        return cls[label.upper()]


ROLE_LEVELS = {"user": AuthLevel.USER, "runner": AuthLevel.RUNNER, "admin": AuthLevel.ADMIN}


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified caller. `workspaces` are the workspace ids its token grants; `all_workspaces` is the
    `*` grant. A principal without grants reaches no workspace data (deny by default)."""

    id: str
    roles: frozenset[str]
    workspaces: frozenset[str] = frozenset()
    all_workspaces: bool = False

    @classmethod
    def of(cls, principal_id: str, roles: Iterable[str], workspaces: Iterable[str] = ()) -> Principal:
        """From the claims as tokens carry them: `["*"]` (or any `*` in the list) grants every workspace."""
        grants = frozenset(workspaces)
        every = ALL_WORKSPACES in grants
        return cls(principal_id, frozenset(roles), frozenset() if every else grants, every)

    @property
    def level(self) -> AuthLevel:
        # A token with no known role is authenticated but may call only anonymous contracts.
        return max((ROLE_LEVELS.get(r, AuthLevel.ANONYMOUS) for r in self.roles), default=AuthLevel.ANONYMOUS)

    def may_reach(self, workspace_id: str) -> bool:
        return self.all_workspaces or workspace_id in self.workspaces

    @property
    def grant_count(self) -> int | None:
        """How many workspaces it is granted; None for `*` (logged, never the ids themselves)."""
        return None if self.all_workspaces else len(self.workspaces)
