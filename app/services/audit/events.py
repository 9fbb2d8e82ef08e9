"""events: the event log from a cursor, filtered, for the caller's workspaces."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.event_log import ControlPlaneEventRecord
from app.contracts.control_plane.queries.event_list import ControlPlaneEventListInput, ControlPlaneEventListOutput
from app.services.kernel.event_reader import LoggedEvent, read_after


def event_record(event: LoggedEvent) -> ControlPlaneEventRecord:
    return ControlPlaneEventRecord(
        cursor=event.cursor,
        position=str(event.position),
        key=event.key,
        version=event.version,
        workspace_id=event.workspace_id,
        execution_id=event.execution_id,
        run_id=event.run_id,
        step_id=event.step_id,
        actor_id=event.actor,
        stream_version=event.stream_version,
        occurred_at=event.occurred_at,
        payload=event.payload,
    )


async def list_events(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneEventListInput
) -> ControlPlaneEventListOutput:
    limit = data.limit or 100
    found = await read_after(
        session,
        principal=principal,
        after=data.after,
        limit=limit + 1,
        workspace_id=data.workspace_id,
        execution_id=data.execution_id,
        event_keys=data.event_keys,
    )
    page = found[:limit]
    return ControlPlaneEventListOutput(
        items=[event_record(event) for event in page],
        end_cursor=page[-1].cursor if page else data.after,
        has_more=len(found) > limit,
    )
