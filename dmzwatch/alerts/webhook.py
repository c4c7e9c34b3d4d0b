"""Generic JSON webhooks signed with HMAC-SHA256.

Receivers verify: ``hex(hmac_sha256(secret, f"{X-Dmzwatch-Timestamp}.{raw body}"))`` equals the hex after
``sha256=`` in ``X-Dmzwatch-Signature``, and reject timestamps older than five minutes (replay protection).

Bodies: ``{"type": "incident.new" | "incident.update", "alert": {...}}``, or for a burst folded into a digest
``{"type": "incident.digest", "window_s": N, "count": K, "alerts": [{...}, ...]}``. ``X-Dmzwatch-Event`` repeats
the type; ``X-Dmzwatch-Delivery`` is stable for the same alert (or digest), so receivers de-duplicate on it.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: int, body: bytes, signature: str, *, now: int, tolerance_s: int = 300) -> bool:
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
