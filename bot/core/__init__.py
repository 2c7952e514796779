"""The pure core: models, parsing, diffing and rendering decisions.

Nothing under ``bot.core`` may import another layer, discord, aiohttp, sqlite3/sqlite_utils,
apscheduler or other I/O; ``tests/test_layers.py`` enforces it.
"""
