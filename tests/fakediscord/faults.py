"""Injected failures and rate limits: what lets a test make Discord misbehave on purpose.

Both answer in Discord's own shape (429 body and ``X-RateLimit-*`` headers, 5xx messages) so
the real client's retry and bucket logic is what gets exercised.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .hub import API_PREFIX, Hub
from .records import Fault
from .responses import HTTPError, json_response

DEFAULT_MESSAGES = {
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
    504: "504: Gateway Timeout",
}


class Faults:
    """Queued injected answers and the optional per-channel message buckets."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._buckets: dict[int, list[float]] = {}
        self._recent: deque[float] = deque()

    def inject(
        self,
        method: str,
        pattern: str,
        status: int,
        *,
        code: int = 0,
        message: str | None = None,
        retry_after: float = 0.05,
        is_global: bool = False,
        after: bool = False,
        times: int = 1,
    ) -> Fault:
        """Queue a fault; see ``FakeDiscord.inject_fault``."""
        pattern = pattern.removeprefix(API_PREFIX)
        headers: dict[str, str] = {}
        if status == 429:
            body: dict[str, Any] = {
                "message": message or "You are being rate limited.",
                "retry_after": retry_after,
                "global": is_global,
                "code": code,
            }
            headers = {
                "Via": "1.1 google",
                "Retry-After": str(math.ceil(retry_after)),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": "fake-injected",
                "X-RateLimit-Scope": "global" if is_global else "user",
            }
            if is_global:
                headers["X-RateLimit-Global"] = "true"
        else:
            body = {
                "code": code,
                "message": message or DEFAULT_MESSAGES.get(status, f"{status}: Error"),
            }
        fault = Fault(method.upper(), pattern, status, body, headers, after=after, times=times)
        self._hub.faults.append(fault)
        return fault

    async def serve(
        self, method: str, path: str, handler: Callable[[], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Answer with the first matching fault (after the real handler if it asks), else run it."""
        faults = self._hub.faults
        fault = next((f for f in faults if f.matches(method, path)), None)
        if fault is None:
            return await handler()
        fault.served += 1
        if fault.served >= fault.times:
            faults.remove(fault)
        if fault.after:
            try:
                real = await handler()
            except HTTPError as exc:
                return json_response(exc.body, exc.status, exc.headers)
            if real.status >= 300:
                return real
        if fault.status == 429:
            self._hub.rate_limited_count += 1
        return json_response(fault.body, fault.status, fault.headers)

    def take_global(self) -> None:
        """Count one request against the global limit (a sliding one-second window); a global
        429 without ``X-RateLimit-*`` bucket headers when it is exceeded, as Discord answers."""
        limit = self._hub.global_rate_limit
        if limit is None:
            return
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= limit:
            self._hub.rate_limited_count += 1
            retry_after = round(1.0 - (now - self._recent[0]) + 0.002, 3)
            raise HTTPError(
                429,
                {
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": True,
                    "code": 0,
                },
                {
                    "Via": "1.1 google",
                    "Retry-After": str(math.ceil(retry_after)),
                    "X-RateLimit-Global": "true",
                    "X-RateLimit-Scope": "global",
                },
            )
        self._recent.append(now)

    def take_channel_bucket(self, channel_id: int, *, edit: bool = False) -> dict[str, str]:
        """Spend one message-creation (or, with ``edit``, message-edit) slot; the headers to
        send, or a 429 if the client ignored them. Edits have their own bucket, as on Discord."""
        rate = self._hub.channel_edit_rate_limit if edit else self._hub.channel_rate_limit
        if rate is None:
            return {}
        limit, per = rate
        now = time.monotonic()
        bucket = self._buckets.setdefault(-channel_id if edit else channel_id, [now, 0.0])
        if now - bucket[0] >= per:
            bucket[0], bucket[1] = now, 0.0
        reset_after = round(per - (now - bucket[0]) + 0.002, 3)
        common = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": f"fake-channel-{'edits' if edit else 'messages'}-{limit}-{per}",
        }
        if bucket[1] >= limit:
            self._hub.rate_limited_count += 1
            raise HTTPError(
                429,
                {
                    "message": "You are being rate limited.",
                    "retry_after": reset_after,
                    "global": False,
                    "code": 0,
                },
                {
                    **common,
                    "X-RateLimit-Remaining": "0",
                    "Via": "1.1 google",
                    "Retry-After": str(math.ceil(reset_after)),
                    "X-RateLimit-Scope": "user",
                },
            )
        bucket[1] += 1
        return {**common, "X-RateLimit-Remaining": str(int(limit - bucket[1]))}
