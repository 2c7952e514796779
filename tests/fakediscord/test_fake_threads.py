"""Threads in the fake, through the real discord.py client: start, post, archive, refuse."""

from __future__ import annotations

import discord
import pytest

from tests.fakediscord import FakeDiscord
from tests.fakediscord.clients import FastClient
from tests.fakediscord.fixtures import running_client
from tests.fakediscord.state import CREATE_PUBLIC_THREADS, SEND_MESSAGES_IN_THREADS

THREAD_RIGHTS = CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS


def allow_threads(fake: FakeDiscord, bits: int = THREAD_RIGHTS) -> None:
    d = fake.defaults
    assert d is not None
    d.bot_role.permissions |= bits


def seminars(client: discord.Client, fake: FakeDiscord) -> discord.TextChannel:
    assert fake.defaults is not None
    channel = client.get_channel(fake.defaults.seminars.id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_a_thread_started_from_a_message_has_its_id_and_only_one_exists(
    fake_discord: FakeDiscord,
) -> None:
    allow_threads(fake_discord)
    async with running_client(FastClient(), fake_discord.token) as client:
        channel = seminars(client, fake_discord)
        message = await channel.send("card")
        thread = await message.create_thread(name="Mahoney — Graphs", auto_archive_duration=10080)
        assert (thread.id, thread.name, thread.parent_id) == (
            message.id,
            "Mahoney — Graphs",
            channel.id,
        )
        assert thread.auto_archive_duration == 10080 and not thread.archived
        await fake_discord.wait_for(lambda: channel.guild.get_thread(thread.id) is not None)
        with pytest.raises(discord.HTTPException) as refused:
            await message.create_thread(name="again")
        assert (refused.value.status, refused.value.code) == (400, 160004)
    assert [t.id for t in fake_discord.threads(fake_discord.defaults.seminars)] == [message.id]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "auto_archive_duration": 30}, "auto_archive_duration"),
    ],
)
async def test_a_bad_thread_start_is_refused_like_discord(
    fake_discord: FakeDiscord, fields: dict[str, object], path: str
) -> None:
    allow_threads(fake_discord)
    async with running_client(FastClient(), fake_discord.token) as client:
        message = await seminars(client, fake_discord).send("card")
        with pytest.raises(discord.HTTPException) as refused:
            await message.create_thread(**fields)  # type: ignore[arg-type]
        assert (refused.value.status, refused.value.code) == (400, 50035)
        assert path in str(refused.value.text) or path in str(refused.value)
    assert fake_discord.threads() == []


async def test_starting_a_thread_needs_create_public_threads(fake_discord: FakeDiscord) -> None:
    allow_threads(fake_discord, SEND_MESSAGES_IN_THREADS)
    async with running_client(FastClient(), fake_discord.token) as client:
        message = await seminars(client, fake_discord).send("card")
        with pytest.raises(discord.Forbidden) as refused:
            await message.create_thread(name="Talk")
        assert refused.value.code == 50013
    assert fake_discord.threads() == []


async def test_posting_in_a_thread_needs_send_messages_in_threads(
    fake_discord: FakeDiscord,
) -> None:
    allow_threads(fake_discord, CREATE_PUBLIC_THREADS)
    async with running_client(FastClient(), fake_discord.token) as client:
        message = await seminars(client, fake_discord).send("card")
        thread = await message.create_thread(name="Talk")
        with pytest.raises(discord.Forbidden) as refused:
            await thread.send("hello")
        assert refused.value.code == 50013
    assert fake_discord.messages(thread.id) == []


async def test_archive_and_post_in_an_archived_thread(fake_discord: FakeDiscord) -> None:
    allow_threads(fake_discord)
    async with running_client(FastClient(), fake_discord.token) as client:
        message = await seminars(client, fake_discord).send("card")
        thread = await message.create_thread(name="Talk", auto_archive_duration=10080)
        await thread.send("first")
        archived = await thread.edit(archived=True)
        assert archived.archived
        (fake_thread,) = fake_discord.threads()
        assert fake_thread.archived
        # A message in an archived, unlocked thread reopens it, as in Discord.
        await client.get_partial_messageable(thread.id).send("second")
        assert not fake_thread.archived
        await thread.edit(archived=True, locked=True)
        with pytest.raises(discord.HTTPException) as refused:
            await client.get_partial_messageable(thread.id).send("third")
        assert (refused.value.status, refused.value.code) == (400, 50083)
    assert [m.content for m in fake_discord.messages(thread.id)] == ["first", "second"]
