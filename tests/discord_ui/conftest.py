from tests.discord_ui.harness import bot_harness
from tests.discord_ui.shard_fleet import fleet

__all__ = ["bot_harness", "fleet"]
