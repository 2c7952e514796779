"""The pure core: models, parsing, diffing and rendering decisions.

Nothing under ``bot.core`` may import discord, aiohttp, sqlite3/sqlite_utils or apscheduler;
``tests/test_core_is_pure.py`` enforces it.
"""
