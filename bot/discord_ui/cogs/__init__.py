"""Slash-command cogs, loaded as extensions in ``SeminarBot.setup_hook``."""
