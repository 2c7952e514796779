"""Messages, DMs, faults, rate limits and scheduled events through the real discord.py client."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import discord
import pytest

from tests.fakediscord import FakeDiscord
from tests.fakediscord.clients import FastClient
from tests.fakediscord.fixtures import running_client


def text_channel(client: discord.Client, channel_id: int) -> discord.TextChannel:
    channel = client.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_send_and_edit_with_embeds_and_allowed_mentions(fake_discord: FakeDiscord) -> None:
    d = fake_discord.defaults
    assert d is not None
    async with running_client(FastClient(), fake_discord.token) as client:
        channel = text_channel(client, d.seminars.id)
        role = channel.guild.get_role(d.seminar_role.id)
        assert role is not None
        mentions = discord.AllowedMentions(everyone=False, users=False, roles=[role])
        message = await channel.send(
            f"{role.mention} talk today",
            embed=discord.Embed(title="Talk", description="Abstract"),
            allowed_mentions=mentions,
        )
        await message.edit(
            content="moved",
            embed=discord.Embed(title="Talk (moved)"),
            allowed_mentions=discord.AllowedMentions.none(),
        )
    [sent] = fake_discord.messages(d.seminars)
    assert sent.payload["allowed_mentions"]["parse"] == []
    assert sent.payload["allowed_mentions"]["roles"] == [d.seminar_role.id]
    assert sent.payload["enforce_nonce"] is True and sent.payload["nonce"]
    assert sent.as_created["mention_roles"] == [str(d.seminar_role.id)]  # the ping really fires
    assert sent.content == "moved" and sent.embeds[0]["title"] == "Talk (moved)"
    assert sent.message["mention_roles"] == []  # the edit's "none" stops re-pinging
    [edit] = fake_discord.edits
    assert edit.message_id == sent.id and edit.payload["allowed_mentions"]["parse"] == []


async def test_over_limit_embed_is_rejected_with_form_error(fake_discord: FakeDiscord) -> None:
    d = fake_discord.defaults
    assert d is not None
    async with running_client(FastClient(), fake_discord.token) as client:
        channel = text_channel(client, d.seminars.id)
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send(embed=discord.Embed(description="x" * 4097))
        with pytest.raises(discord.HTTPException) as empty:
            await client.http.send_message(
                d.seminars.id,
                params=discord.http.MultipartParameters(
                    payload={"content": ""}, multipart=None, files=None
                ),
            )
    assert caught.value.status == 400 and caught.value.code == 50035
    assert "embeds.0.description" in caught.value.text
    assert empty.value.code == 50006
    assert fake_discord.messages(d.seminars) == []


async def test_429_once_then_success(fake_discord: FakeDiscord) -> None:
    d = fake_discord.defaults
    assert d is not None
    fake_discord.inject_fault("POST", "/channels/*/messages", 429, retry_after=0.05)
    async with running_client(FastClient(), fake_discord.token) as client:
        await text_channel(client, d.seminars.id).send("hello")
    assert fake_discord.rate_limited_count == 1
    assert [s.content for s in fake_discord.messages(d.seminars)] == ["hello"]
    assert [r.status for r in fake_discord.requests if r.method == "POST"] == [429, 200]


async def test_5xx_after_create_is_deduplicated_by_nonce(fake_discord: FakeDiscord) -> None:
    d = fake_discord.defaults
    assert d is not None
    fake_discord.inject_fault("POST", "/channels/*/messages", 502, after=True)
    async with running_client(FastClient(), fake_discord.token) as client:
        message = await text_channel(client, d.seminars.id).send("once only")
    posts = [r for r in fake_discord.requests if r.method == "POST"]
    assert [r.status for r in posts] == [502, 200]
    assert posts[0].body["nonce"] == posts[1].body["nonce"]
    assert [s.id for s in fake_discord.messages(d.seminars)] == [message.id]


async def test_channel_rate_limit_headers_make_the_client_wait(fake_discord: FakeDiscord) -> None:
    d = fake_discord.defaults
    assert d is not None
    fake_discord.enable_channel_rate_limit(limit=2, per=0.3)
    async with running_client(FastClient(), fake_discord.token) as client:
        channel = text_channel(client, d.seminars.id)
        started = time.monotonic()
        for n in range(3):
            await channel.send(f"m{n}")
        elapsed = time.monotonic() - started
    assert len(fake_discord.messages(d.seminars)) == 3
    assert fake_discord.rate_limited_count == 0
    assert elapsed >= 0.25  # it waited for Reset-After instead of hitting a 429


async def test_permissions_unknown_ids_and_closed_dms(fake_discord: FakeDiscord) -> None:
    d = fake_discord.defaults
    assert d is not None
    fake_discord.set_dms_open(d.member, False)
    async with running_client(FastClient(), fake_discord.token) as client:
        with pytest.raises(discord.Forbidden) as forbidden:
            await text_channel(client, d.readonly.id).send("nope")
        with pytest.raises(discord.NotFound) as unknown_channel:
            await client.http.get_channel(123)
        seminars = text_channel(client, d.seminars.id)
        sent = await seminars.send("x")
        with pytest.raises(discord.NotFound) as unknown_message:
            await seminars.get_partial_message(sent.id + 1).edit(content="y")
        admin = await client.fetch_user(d.admin.id)
        await admin.send("hello admin")
        member = await client.fetch_user(d.member.id)
        with pytest.raises(discord.Forbidden) as closed:
            await member.send("hello")
    assert forbidden.value.code == 50013
    assert unknown_channel.value.code == 10003
    assert unknown_message.value.code == 10008
    assert closed.value.code == 50007
    assert [m.content for m in fake_discord.dms(d.admin)] == ["hello admin"]
    assert fake_discord.dms(d.member) == []


async def test_scheduled_events_crud_and_validation(fake_discord: FakeDiscord) -> None:
    d = fake_discord.defaults
    assert d is not None
    start = datetime.now(UTC) + timedelta(days=2)
    async with running_client(FastClient(), fake_discord.token) as client:
        guild = client.get_guild(d.guild.id)
        assert guild is not None
        with pytest.raises(discord.HTTPException) as missing_type:
            # discord.py omits entity_type and privacy_level unless passed explicitly
            await guild.create_scheduled_event(
                name="Talk",
                start_time=start,
                end_time=start + timedelta(hours=1),
                location="Room 1",
            )
        event = await guild.create_scheduled_event(
            name="Talk",
            start_time=start,
            end_time=start + timedelta(hours=1),
            entity_type=discord.EntityType.external,
            privacy_level=discord.PrivacyLevel.guild_only,
            location="Room 1",
            description="Abstract",
        )
        with pytest.raises(discord.HTTPException) as too_long:
            await event.edit(name="x" * 101)
        event = await event.edit(location="Room 2")
        assert event.location == "Room 2"
        assert len(fake_discord.scheduled_events()) == 1
        await event.delete()
    assert missing_type.value.code == 50035
    assert "entity_type" in missing_type.value.text and "privacy_level" in missing_type.value.text
    assert "name" in too_long.value.text
    assert [op for op, _ in fake_discord.event_log] == ["create", "update", "delete"]
    assert fake_discord.scheduled_events() == []
