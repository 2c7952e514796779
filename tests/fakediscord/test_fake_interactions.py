"""Command sync and interactions, answered by the real discord.py app-command machinery."""

from __future__ import annotations

from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fakediscord import FakeDiscord
from tests.fakediscord.clients import FastBot, FastClient
from tests.fakediscord.fixtures import running_client

EPHEMERAL = 64


def guild_obj(fake: FakeDiscord) -> discord.Object:
    assert fake.defaults is not None
    return discord.Object(fake.defaults.guild.id)


async def test_sync_returns_ids_and_commands_are_listed(fake_discord: FakeDiscord) -> None:
    client = FastClient()

    @client.tree.command(name="next", description="Show the next seminar")
    @app_commands.describe(count="How many")
    async def next_(interaction: discord.Interaction, count: int = 1) -> None: ...

    feeds = app_commands.Group(name="feeds", description="Manage feeds")

    @feeds.command(name="add", description="Add a feed")
    async def add(interaction: discord.Interaction, url: str) -> None: ...

    client.tree.add_command(feeds)
    async with running_client(client, fake_discord.token):
        synced = await client.tree.sync()
        fetched = await client.tree.fetch_commands()
        assert await client.tree.sync(guild=guild_obj(fake_discord)) == []
    assert sorted(c.name for c in synced) == ["feeds", "next"]
    assert all(c.id for c in synced)
    assert {c.id for c in fetched} == {c.id for c in synced}
    stored = fake_discord.synced_commands()
    assert stored is not None and {c["name"] for c in stored} == {"feeds", "next"}
    feeds_def = next(c for c in stored if c["name"] == "feeds")
    assert feeds_def["options"][0]["options"][0]["name"] == "url"


async def test_invalid_commands_are_rejected_like_discord(fake_discord: FakeDiscord) -> None:
    client = FastClient()

    @client.tree.command(name="ok", description="fine")
    async def ok(interaction: discord.Interaction) -> None: ...

    ok.name = "NotLower"  # slip past discord.py's own check to reach the server's
    async with running_client(client, fake_discord.token):
        with pytest.raises(app_commands.CommandSyncFailure) as failure:
            await client.tree.sync()
        assert failure.value.code == 50035
        options = [{"type": 3, "name": f"o{i}", "description": "d"} for i in range(26)]
        with pytest.raises(discord.HTTPException) as too_many:
            await client.http.bulk_upsert_global_commands(
                fake_discord.application_id,
                [{"name": "many", "description": "d", "type": 1, "options": options}],
            )
    assert too_many.value.status == 400 and too_many.value.code == 50035
    assert "0.options" in too_many.value.text
    assert fake_discord.synced_commands() is None


async def test_slash_command_ephemeral_reply_is_recorded(fake_discord: FakeDiscord) -> None:
    client = FastClient()
    seen: list[tuple[str, int]] = []
    feeds = app_commands.Group(name="feeds", description="Manage feeds")
    admin = app_commands.Group(name="admin", description="Admin", parent=feeds)

    @admin.command(name="add", description="Add a feed")
    async def add(interaction: discord.Interaction, url: str, hours: int = 1) -> None:
        seen.append((url, hours))
        await interaction.response.send_message(f"added {url}", ephemeral=True)

    client.tree.add_command(feeds, guild=guild_obj(fake_discord))
    async with running_client(client, fake_discord.token):
        await client.tree.sync(guild=guild_obj(fake_discord))
        d = fake_discord.defaults
        assert d is not None
        iid = fake_discord.inject_command(
            "feeds admin add", {"url": "https://x.test", "hours": 3}, user=d.admin
        )
        record = await fake_discord.wait_for_interaction_response(iid, timeout=5)
    assert seen == [("https://x.test", 3)]
    assert record.response_type == 4
    assert record.response_data["content"] == "added https://x.test"
    assert record.response_data["flags"] & EPHEMERAL
    assert fake_discord.messages(d.seminars) == []  # ephemeral: not in the channel


async def test_defer_then_followup_and_original_edit(fake_discord: FakeDiscord) -> None:
    client = FastClient()

    @client.tree.command(name="slow", description="Slow")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content="done")
        await interaction.followup.send("and one more", embed=discord.Embed(title="T"))

    async with running_client(client, fake_discord.token):
        await client.tree.sync()
        iid = fake_discord.inject_command("slow")
        record = await fake_discord.wait_for_interaction_response(iid)
        await fake_discord.wait_for(lambda: len(record.followup_ids) == 1)
    assert record.response_type == 5
    original = fake_discord.message(record.original_message_id or 0)
    assert original.content == "done"
    assert not original.message["flags"] & 128  # no longer "thinking"
    followup = fake_discord.message(record.followup_ids[0])
    assert followup.content == "and one more" and followup.embeds[0]["title"] == "T"
    assert [e.source for e in fake_discord.edits] == ["original"]


async def test_autocomplete_choices_are_recorded(fake_discord: FakeDiscord) -> None:
    client = FastClient()

    @client.tree.command(name="find", description="Find")
    async def find(interaction: discord.Interaction, speaker: str) -> None: ...

    @find.autocomplete("speaker")
    async def speakers(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
        return [app_commands.Choice(name=n, value=n) for n in names if current.lower() in n.lower()]

    async with running_client(client, fake_discord.token):
        await client.tree.sync()
        iid = fake_discord.inject_autocomplete("find", {"speaker": "ce"}, focused="speaker")
        record = await fake_discord.wait_for_interaction_response(iid)
    assert record.response_type == 8
    assert [c["name"] for c in record.response_data["choices"]] == ["Ada Lovelace", "Grace Hopper"]


class RsvpView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.clicks: list[int] = []

    @discord.ui.button(
        label="Remind me", custom_id="rsvp:remind", style=discord.ButtonStyle.primary
    )
    async def remind(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        self.clicks.append(interaction.user.id)
        await interaction.response.send_message("You will be reminded", ephemeral=True)


async def test_button_click_on_persistent_view(fake_discord: FakeDiscord) -> None:
    bot = FastBot()
    view = RsvpView()
    d = fake_discord.defaults
    assert d is not None
    async with running_client(bot, fake_discord.token):
        bot.add_view(view)
        channel = bot.get_channel(d.seminars.id)
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("Talk on Friday", view=view)
        iid = fake_discord.click_button(message.id, "rsvp:remind", user=d.member)
        record = await fake_discord.wait_for_interaction_response(iid)
    assert view.clicks == [d.member.id]
    assert record.response_data["content"] == "You will be reminded"
    sent = fake_discord.messages(d.seminars)
    assert [s.content for s in sent] == ["Talk on Friday"]
    assert sent[0].components[0]["components"][0]["custom_id"] == "rsvp:remind"


async def test_late_and_second_responses_are_refused(fake_discord: FakeDiscord) -> None:
    client = FastClient()
    errors: list[int] = []

    @client.tree.command(name="late", description="Late")
    async def late(interaction: discord.Interaction) -> None:
        fake_discord.advance(3.5)  # the handler "took" longer than Discord's 3 s
        try:
            await interaction.response.send_message("too late")
        except discord.NotFound as exc:
            errors.append(exc.code)

    @client.tree.command(name="twice", description="Twice")
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("once")

    async with running_client(client, fake_discord.token):
        await client.tree.sync()
        late_id = fake_discord.inject_command("late")
        await fake_discord.wait_for(lambda: bool(errors))
        twice_id = fake_discord.inject_command("twice")
        record = await fake_discord.wait_for_interaction_response(twice_id)
    assert errors == [10062]
    assert fake_discord.interaction(late_id).rejected[0][1]["code"] == 10062
    url = f"{fake_discord.api_base_url}/interactions/{record.id}/{record.token}/callback"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"type": 4, "data": {"content": "again"}}) as response,
    ):
        assert response.status == 400
        assert (await response.json())["code"] == 40060


async def test_interaction_after_gateway_drop_arrives_via_resume(fake_discord: FakeDiscord) -> None:
    client = FastClient()
    got: list[str] = []

    @client.tree.command(name="ping", description="Ping")
    async def ping(interaction: discord.Interaction) -> None:
        got.append("ping")
        await interaction.response.send_message("pong")

    async with running_client(client, fake_discord.token):
        await client.tree.sync()
        fake_discord.drop_gateway()
        iid = fake_discord.inject_command("ping")  # queued while disconnected, replayed on RESUME
        record = await fake_discord.wait_for_interaction_response(iid)
        await fake_discord.wait_for(lambda: client.resumed == 1)
    assert got == ["ping"] and record.response_data["content"] == "pong"
    assert fake_discord.resume_count == 1 and fake_discord.identify_count == 1
    assert fake_discord.gateway.connect_paths == ["/gateway", "/gateway-resume"]


async def test_reconnect_resumes_and_invalid_session_reidentifies(
    fake_discord: FakeDiscord,
) -> None:
    async with running_client(FastClient(), fake_discord.token) as client:
        fake_discord.request_reconnect()
        await fake_discord.wait_for(lambda: fake_discord.resume_count == 1)
        await fake_discord.wait_for(lambda: fake_discord.gateway.ready)
        fake_discord.invalidate_session(resumable=False)
        await fake_discord.wait_for(lambda: fake_discord.identify_count == 2)
        assert client.is_ready()
    # discord.py 2.7.1 re-IDENTIFYs on the resume URL it still holds after op 9 false
    assert fake_discord.gateway.connect_paths[:2] == ["/gateway", "/gateway-resume"]
    assert len(fake_discord.gateway.connect_paths) == 3
