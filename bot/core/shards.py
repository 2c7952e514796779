"""Which Discord servers a process serves when the bot runs as several shard processes.

Discord routes a server to shard ``(guild_id >> 22) % shard_count``; a process that runs the
shards in ``shard_ids`` owns exactly the servers routed to one of them. An unsharded process
(``shard_count`` unset) owns every server.
"""

from __future__ import annotations

from dataclasses import dataclass

#: How a database records that it holds every server (one unsharded process).
EVERY_SERVER = "all"


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends this server's events to."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class ShardSet:
    """The shards one process runs: ``count`` None means unsharded (one session, every server)."""

    count: int | None = None
    ids: tuple[int, ...] = ()

    @property
    def sharded(self) -> bool:
        return self.count is not None

    @property
    def owned_ids(self) -> tuple[int, ...]:
        """The shard ids this process runs (all of them when ``shard_ids`` was not given)."""
        if self.count is None:
            return ()
        return self.ids or tuple(range(self.count))

    def owns(self, guild_id: int) -> bool:
        """True if this process serves the server; direct messages (guild 0) go to shard 0."""
        if self.count is None:
            return True
        if guild_id == 0:
            return self.runs_shard_zero()
        return shard_of(guild_id, self.count) in self.owned_ids

    def runs_shard_zero(self) -> bool:
        """The process that owns shard 0 (or the only process) does the global work."""
        return self.count is None or 0 in self.owned_ids

    def describe(self) -> str:
        if self.count is None:
            return "unsharded (every server)"
        ids = ", ".join(str(i) for i in self.owned_ids)
        return f"shard(s) {ids} of {self.count}"

    @property
    def owns_everything(self) -> bool:
        """Unsharded, or running every shard: the process serves every server."""
        return self.count is None or len(self.owned_ids) == self.count

    def to_record(self) -> str:
        """The stable text a database stores to remember which servers it holds.

        Sets that own the same servers get the same text (unsharded = all shards of any count).
        """
        if self.owns_everything:
            return EVERY_SERVER
        return f"{self.count}:{','.join(str(i) for i in self.owned_ids)}"

    @classmethod
    def from_record(cls, text: str) -> ShardSet:
        if text == EVERY_SERVER:
            return cls()
        count, _, ids = text.partition(":")
        return cls(int(count), tuple(int(i) for i in ids.split(",") if i))
