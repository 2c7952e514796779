"""The real discord.py client logs in to the fake and sees the default guild."""

from __future__ import annotations

import aiohttp
import discord
import pytest

from tests.fakediscord import FakeDiscord
from tests.fakediscord.fixtures import running_client


class FastClient(discord.Client):
    """A client that skips discord.py's 5 s sleep before re-IDENTIFY."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


def make_client() -> FastClient:
    intents = discord.Intents.default()
    intents.members = True
    return FastClient(intents=intents, guild_ready_timeout=0.05)


async def test_login_ready_sees_guild_channels_roles_members(fake_discord: FakeDiscord) -> None:
    d = fake_discord.defaults
    assert d is not None
    async with running_client(make_client(), fake_discord.token) as client:
        guild = client.get_guild(d.guild.id)
        assert guild is not None
        assert {c.name for c in guild.text_channels} == {"seminars", "read-only"}
        assert guild.member_count == len(guild.members) == 4
        role = guild.get_role(d.seminar_role.id)
        assert role is not None and role.mentionable
        me = guild.me
        assert me is not None
        seminars = guild.get_channel(d.seminars.id)
        readonly = guild.get_channel(d.readonly.id)
        assert isinstance(seminars, discord.TextChannel) and isinstance(
            readonly, discord.TextChannel
        )
        assert seminars.permissions_for(me).send_messages
        assert not readonly.permissions_for(me).send_messages
        assert client.application_id == fake_discord.application_id
    assert fake_discord.identify_count == 1
    assert fake_discord.gateway.connect_paths == ["/gateway"]


async def test_bad_token_is_a_login_failure(fake_discord: FakeDiscord) -> None:
    with pytest.raises(discord.LoginFailure):
        async with running_client(make_client(), "not-the-token"):
            pass


async def test_disallowed_privileged_intent_closes_4014(fake_discord: FakeDiscord) -> None:
    fake_discord.gateway.allowed_privileged_intents = 0
    client = FastClient(intents=discord.Intents.all(), guild_ready_timeout=0.05)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with running_client(client, fake_discord.token):
            pass
    assert fake_discord.gateway.close_codes == [4014]


async def test_json_content_type_is_exact_and_401_has_discord_shape(
    fake_discord: FakeDiscord,
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{fake_discord.api_base_url}/users/@me",
            headers={"Authorization": f"Bot {fake_discord.token}"},
        ) as ok:
            assert ok.headers["Content-Type"] == "application/json"
            assert (await ok.json())["bot"] is True
        async with session.get(
            f"{fake_discord.api_base_url}/users/@me", headers={"Authorization": "Bot wrong"}
        ) as bad:
            assert bad.status == 401
            assert await bad.json() == {"message": "401: Unauthorized", "code": 0}
