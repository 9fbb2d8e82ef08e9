"""Metadata every control-plane contract shares."""

from __future__ import annotations

from app.contracts.model import Meta, Stability, VersionedRef

CONTROL_PLANE_DOMAIN = "control-plane"
CONTROL_PLANE_OWNERS = ("platform.core",)
CONTROL_PLANE_TAGS = ("automation", "control-plane", "agent-runtime")
CONTROL_PLANE_STABILITY = Stability.EXPERIMENTAL

CORE = VersionedRef("control-plane.core", "1.0.0")
APPROVAL = VersionedRef("control-plane.approval", "1.0.0")
AUDIT = VersionedRef("control-plane.audit", "1.0.0")
SKILL_REGISTRY = VersionedRef("control-plane.skill-registry", "1.0.0")
CHANNEL_RUNTIME = VersionedRef("control-plane.channel-runtime", "1.0.0")
WEBHOOKS = VersionedRef("control-plane.webhooks", "1.0.0")

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


def meta(  # noqa: PLR0913 - the words of ContractSpec's meta, all keyword-only
    key: str,
    *,
    title: str,
    description: str,
    goal: str,
    context: str,
    tags: tuple[str, ...] = (),
    version: str = "1.0.0",
) -> Meta:
    return Meta(
        key=key,
        version=version,
        title=title,
        description=description,
        goal=goal,
        context=context,
        domain=CONTROL_PLANE_DOMAIN,
        owners=CONTROL_PLANE_OWNERS,
        tags=(*CONTROL_PLANE_TAGS, *tags),
        stability=CONTROL_PLANE_STABILITY,
    )
