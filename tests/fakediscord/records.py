"""What the fake remembers, in the order it happened, for tests to assert on."""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from typing import Any

EPHEMERAL = 1 << 6
LOADING = 1 << 7


@dataclass
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class SentMessage:
    """A message the fake created: the request body as received and the stored message JSON."""

    message: dict[str, Any]
    payload: dict[str, Any]
    #: "channel" (POST /channels/…/messages), "interaction" (callback), "followup" (webhook).
    source: str
    files: list[UploadedFile] = field(default_factory=list)
    interaction_id: int | None = None
    deleted: bool = False
    #: The message JSON as first created (``message`` follows later edits).
    as_created: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return int(self.message["id"])

    @property
    def channel_id(self) -> int:
        return int(self.message["channel_id"])

    @property
    def content(self) -> str:
        return str(self.message.get("content", ""))

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.message.get("embeds", []))

    @property
    def components(self) -> list[dict[str, Any]]:
        return list(self.message.get("components", []))

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.message.get("flags", 0)) & EPHEMERAL)


@dataclass
class Edit:
    message_id: int
    channel_id: int
    payload: dict[str, Any]
    #: "channel", "original" (@original), "followup", or "component" (callback type 7).
    source: str


@dataclass
class Delete:
    message_id: int
    channel_id: int
    source: str


@dataclass
class InteractionRecord:
    """An injected interaction and everything the client answered to it."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    created_at: float
    #: The accepted initial callback body (``{"type": 4, "data": {...}}``), None until answered.
    response: dict[str, Any] | None = None
    #: Every callback/follow-up the fake refused: (status, error body, request body).
    rejected: list[tuple[int, dict[str, Any], Any]] = field(default_factory=list)
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)

    @property
    def response_type(self) -> int | None:
        return None if self.response is None else int(self.response.get("type", 0))

    @property
    def response_data(self) -> dict[str, Any]:
        data = (self.response or {}).get("data")
        return data if isinstance(data, dict) else {}


class InteractionRejected(AssertionError):
    """The client answered an interaction, but only with requests the fake refused."""


@dataclass
class Fault:
    """A canned answer for the next ``times`` requests matching ``method`` and ``pattern``."""

    method: str
    pattern: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    #: Run the real handler first (e.g. create the message), then answer with the fault.
    after: bool = False
    times: int = 1
    served: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method.upper()) and fnmatch.fnmatchcase(path, self.pattern)


@dataclass
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int = 0
    #: Wall-clock arrival (``time.time()``): benchmarks time deliveries and count requests
    #: per second with it.
    at: float = field(default_factory=time.time)
