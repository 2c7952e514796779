from tests.discord_ui.harness import bot_harness

__all__ = ["bot_harness"]
