"""Discord-shaped answers: the JSON response helper and the error every handler can raise.

Kept apart so each route module speaks the same error dialect (``{"code", "message"}`` and the
50035 trees from ``validation``) without importing the app that serves it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

JSON = "application/json"

UNKNOWN_CHANNEL = (404, 10003, "Unknown Channel")
UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")
UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")
UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
MISSING_ACCESS = (403, 50001, "Missing Access")
MISSING_PERMISSIONS = (403, 50013, "Missing Permissions")


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Content-Type exactly ``application/json`` (discord.py compares the whole header)."""
    merged = {"Content-Type": JSON, **(headers or {})}
    return web.Response(status=status, body=json.dumps(data).encode(), headers=merged)


def no_content() -> web.Response:
    return web.Response(status=204)


class HTTPError(Exception):
    """Raised inside handlers; the middleware turns it into Discord's error JSON."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}


def fail(status: int, code: int, message: str) -> HTTPError:
    return HTTPError(status, {"code": code, "message": message})


def check(body: dict[str, Any] | None) -> None:
    """Raise the validation body (400) if there is one."""
    if body is not None:
        raise HTTPError(400, body)
