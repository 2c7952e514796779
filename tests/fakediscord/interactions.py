"""How the bot answers an interaction: the callback, follow-ups and ``@original`` edits.

Discord's timing rules are enforced here (3 s to the initial response, 15 min token life,
one initial response, follow-ups only after it); every refused answer is kept on the
``InteractionRecord`` so a test can tell "never answered" from "answered wrongly".
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import validation as v
from .hub import Hub
from .messages import Messages
from .records import EPHEMERAL, LOADING, InteractionRecord, SentMessage, UploadedFile
from .responses import (
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    HTTPError,
    check,
    fail,
    json_response,
    no_content,
)
from .rest import BODY, FILES, Route
from .state import FakeChannel, FakeGuild

TOKEN_LIFETIME = 15 * 60.0
#: Response types each interaction type accepts (command, component, autocomplete, modal).
ALLOWED_RESPONSES = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}
WEBHOOK = r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)"
WEBHOOK_MESSAGE = WEBHOOK + r"/messages/(?P<message>@original|\d+)"


class InteractionRoutes:
    """``/interactions/{id}/{token}/callback`` and the ``/webhooks/{app}/{token}`` family."""

    def __init__(self, hub: Hub, messages: Messages) -> None:
        self._hub = hub
        self._messages = messages

    def routes(self) -> list[Route]:
        return [
            (
                "POST",
                r"/interactions/(?P<interaction>\d+)/(?P<token>[^/]+)/callback",
                self._callback,
            ),
            ("POST", WEBHOOK, self._post_followup),
            ("GET", WEBHOOK_MESSAGE, self._get_webhook_message),
            ("PATCH", WEBHOOK_MESSAGE, self._patch_webhook_message),
            ("DELETE", WEBHOOK_MESSAGE, self._delete_webhook_message),
        ]

    def _interaction_by_token(self, m: dict[str, str]) -> InteractionRecord:
        hub = self._hub
        if int(m["app"]) != hub.application_id:
            raise fail(*UNKNOWN_WEBHOOK)
        for record in hub.interactions.values():
            if record.token == m["token"]:
                if hub.clock() - record.created_at > TOKEN_LIFETIME:
                    raise fail(401, 50027, "Invalid Webhook Token")
                return record
        raise fail(*UNKNOWN_WEBHOOK)

    def _interaction_place(self, record: InteractionRecord) -> tuple[FakeChannel, FakeGuild | None]:
        channel_id = int(record.payload["channel"]["id"])
        return self._hub.find_channel(channel_id)

    async def _callback(self, request: web.Request, m: dict[str, str]) -> web.Response:
        record = self._hub.interactions.get(int(m["interaction"]))
        if record is None or record.token != m["token"]:
            raise fail(*UNKNOWN_INTERACTION)
        body = request[BODY] or {}
        try:
            return self._answer(record, body, request[FILES])
        except HTTPError as exc:
            record.rejected.append((exc.status, exc.body, body))
            raise

    def _answer(
        self, record: InteractionRecord, body: dict[str, Any], files: list[UploadedFile]
    ) -> web.Response:
        if self._hub.clock() - record.created_at > self._hub.interaction_deadline:
            raise fail(*UNKNOWN_INTERACTION)
        if record.response is not None:
            raise fail(400, 40060, "Interaction has already been acknowledged.")
        kind = body.get("type")
        data = body.get("data") or {}
        component = record.type in (3, 5) and "message" in record.payload
        if kind not in ALLOWED_RESPONSES.get(record.type, set()):
            tree = v.ErrorTree()
            tree.add(
                ("type",),
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Interaction response type {kind} is invalid for interaction type {record.type}",
            )
            raise HTTPError(400, tree.body())
        channel, guild = self._interaction_place(record)
        message: dict[str, Any] | None = None
        loading = False
        if kind == 4:
            check(v.validate_message(data, files=len(files)))
            sent = self._messages.create(
                channel, guild, data, files, source="interaction", interaction=record
            )
            record.original_message_id, message = sent.id, sent.message
        elif kind == 5:
            flags = int(data.get("flags") or 0)
            if flags & ~EPHEMERAL:
                tree = v.ErrorTree()
                tree.add(
                    ("data", "flags"),
                    "INTERACTION_RESPONSE_FLAGS_INVALID",
                    "Deferred responses only accept the EPHEMERAL flag",
                )
                raise HTTPError(400, tree.body())
            sent = self._messages.create(
                channel,
                guild,
                {"content": ""},
                [],
                source="interaction",
                interaction=record,
                extra_flags=LOADING | flags,
            )
            record.original_message_id, message, loading = sent.id, sent.message, True
        elif kind in (6, 7):
            if not component:
                raise fail(400, 50035, "Invalid Form Body")
            target = self._hub.messages_by_id[int(record.payload["message"]["id"])]
            if kind == 7:
                self._messages.edit(target, data, files, "component")
            record.original_message_id, message = target.id, target.message
        elif kind == 8:
            check(v.validate_autocomplete(data))
        elif kind == 9:
            check(v.validate_modal(data))
        record.response = body
        result: dict[str, Any] = {
            "interaction": {
                "id": str(record.id),
                "type": record.type,
                "response_message_id": str(record.original_message_id)
                if record.original_message_id
                else None,
                "response_message_loading": loading,
                "response_message_ephemeral": bool(
                    message is not None and int(message.get("flags") or 0) & EPHEMERAL
                ),
            },
        }
        if message is not None:
            result["resource"] = {"type": kind, "message": message}
        elif kind != 8:
            result["resource"] = {"type": kind}
        return json_response(result)

    async def _post_followup(self, request: web.Request, m: dict[str, str]) -> web.StreamResponse:
        record = self._interaction_by_token(m)
        body = request[BODY] or {}
        try:
            if record.response is None:
                raise fail(*UNKNOWN_WEBHOOK)
            check(v.validate_message(body, files=len(request[FILES])))
            channel, guild = self._interaction_place(record)
            sent = self._messages.create(
                channel, guild, body, request[FILES], source="followup", interaction=record
            )
        except HTTPError as exc:
            record.rejected.append((exc.status, exc.body, body))
            raise
        record.followup_ids.append(sent.id)
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(sent.message)
        return no_content()

    def _webhook_target(self, record: InteractionRecord, ref: str) -> SentMessage:
        by_id = self._hub.messages_by_id
        if ref == "@original":
            if record.original_message_id is None:
                raise fail(*UNKNOWN_MESSAGE)
            sent = by_id[record.original_message_id]
        else:
            sent_or_none = by_id.get(int(ref))
            if sent_or_none is None or sent_or_none.interaction_id != record.id:
                raise fail(*UNKNOWN_MESSAGE)
            sent = sent_or_none
        if sent.deleted:
            raise fail(*UNKNOWN_MESSAGE)
        return sent

    async def _get_webhook_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        record = self._interaction_by_token(m)
        return json_response(self._webhook_target(record, m["message"]).message)

    async def _patch_webhook_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        record = self._interaction_by_token(m)
        body = request[BODY] or {}
        try:
            sent = self._webhook_target(record, m["message"])
            source = "original" if m["message"] == "@original" else "followup"
            self._messages.edit(sent, body, request[FILES], source)
        except HTTPError as exc:
            record.rejected.append((exc.status, exc.body, body))
            raise
        return json_response(sent.message)

    async def _delete_webhook_message(
        self, request: web.Request, m: dict[str, str]
    ) -> web.Response:
        record = self._interaction_by_token(m)
        sent = self._webhook_target(record, m["message"])
        self._messages.delete(sent, "original" if m["message"] == "@original" else "followup")
        return no_content()
