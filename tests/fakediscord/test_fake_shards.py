"""The fake routes guilds to shards as Discord does: ``(guild_id >> 22) % shard_count``."""

from __future__ import annotations

import aiohttp

from tests.fakediscord import FakeDiscord
from tests.fakediscord.clients import FastClient, FastShardedClient
from tests.fakediscord.fixtures import running_client


async def test_two_shard_clients_each_get_their_guilds_and_interactions(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    worlds = [fake.add_world(f"Uni {i}", shard=(i % 2, 2)) for i in range(4)]
    on_shard = {s: {g for g in fake.guilds if (g >> 22) % 2 == s} for s in (0, 1)}
    assert {w.guild.id for w in worlds[0::2]} <= on_shard[0]
    async with (
        running_client(FastShardedClient(2, [0]), fake.token) as zero,
        running_client(FastShardedClient(2, [1]), fake.token) as one,
    ):
        assert {g.id for g in zero.guilds} == on_shard[0]
        assert {g.id for g in one.guilds} == on_shard[1]
        identifies = [p["d"]["shard"] for p in fake.gateway.received if p.get("op") == 2]
        assert sorted(identifies) == [[0, 2], [1, 2]]
        ready = {s: fake.gateway.sessions[s].log[0]["d"]["shard"] for s in (0, 1)}
        assert ready == {0: [0, 2], 1: [1, 2]}

        ids = [
            fake.inject_command("ping", user=w.member, channel=w.seminars, guild=w.guild)
            for w in worlds
        ]
        for iid in ids:
            await fake.wait_for_interaction_response(iid)
        assert sorted(zero.interactions_seen) == sorted((0, w.guild.id) for w in worlds[0::2])
        assert sorted(one.interactions_seen) == sorted((1, w.guild.id) for w in worlds[1::2])

        # A shard that is gone gets nothing; the other shard is not bothered with it.
        fake.drop_gateway(shard_id=1)
        assert not fake.gateway.shard_ready(1) and fake.gateway.shard_ready(0)


async def test_unsharded_identify_is_shard_zero_of_one(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    extra = fake.add_world("Other", shard=(1, 2))
    async with running_client(FastClient(), fake.token) as client:
        assert {g.id for g in client.guilds} == {fake.defaults.guild.id, extra.guild.id}
        assert "shard" not in fake.gateway.sessions[0].log[0]["d"]


async def test_gateway_bot_recommends_one_shard_per_thousand_guilds(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{fake.api_base_url}/gateway/bot", headers=headers) as resp:
            assert (await resp.json())["shards"] == 1
        fake.shard_recommendation = 3
        async with http.get(f"{fake.api_base_url}/gateway/bot", headers=headers) as resp:
            assert (await resp.json())["shards"] == 3


async def test_an_invalid_shard_is_refused_with_4010(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with aiohttp.ClientSession() as http, http.ws_connect(fake.gateway_url) as ws:
        await ws.receive_json()  # HELLO
        await ws.send_json(
            {"op": 2, "d": {"token": fake.token, "intents": 1, "shard": [2, 2], "properties": {}}}
        )
        await ws.receive()
        assert ws.close_code == 4010
