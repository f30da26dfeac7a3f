"""Standard Webhooks signatures (https://www.standardwebhooks.com/), through the `standardwebhooks` package.

Headers: `webhook-id` (the event's id, the same on every attempt), `webhook-timestamp` (seconds since the
epoch, of this attempt) and `webhook-signature`: space-separated `v1,<base64 HMAC-SHA256 of
"<id>.<timestamp>.<body>">`, one per secret that is valid (two while a rotated secret overlaps).
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def webhook_secret_generate() -> str:
    """A new `whsec_` secret: 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_headers_sign(*, msg_id: str, timestamp: datetime, body: str, secrets_: list[str]) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt, signed with every secret in `secrets_`."""
    signatures = [Webhook(s).sign(msg_id=msg_id, timestamp=timestamp, data=body) for s in secrets_ if s]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
