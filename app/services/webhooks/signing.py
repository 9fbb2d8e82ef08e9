"""Standard Webhooks (standardwebhooks.com): the secret, the body of an event and its signature headers.

The secret is `whsec_` + base64 of 32 random bytes; the signature is `v1,` + base64 of
HMAC-SHA256(secret, "<webhook-id>.<webhook-timestamp>.<body>"), computed by the `standardwebhooks`
package, the same one a Python receiver verifies with. While a rotated-out secret is still valid, both
sign, space-separated, so a receiver holding either verifies.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from standardwebhooks import Webhook

from app.contracts.control_plane.webhooks import SECRET_PREFIX
from app.services.kernel.event_reader import LoggedEvent

SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _instant(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def event_body(event: LoggedEvent) -> str:
    """The JSON body of one event: `{"type", "timestamp", "data": {cursor, version, ids..., ...payload}}`."""
    data: dict[str, Any] = {
        "cursor": event.cursor,
        "version": event.version,
        "workspaceId": event.workspace_id,
        "executionId": event.execution_id,
        "runId": event.run_id,
        "stepId": event.step_id,
        "actorId": event.actor,
        **event.payload,
    }
    document = {"type": event.key, "timestamp": _instant(event.occurred_at), "data": data}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def signature_headers(message_id: str, at: datetime, body: str, keys: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt, signed with each secret of `keys`."""
    signatures = " ".join(Webhook(key).sign(message_id, at, body) for key in keys)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(math.floor(at.timestamp())),
        "webhook-signature": signatures,
    }
