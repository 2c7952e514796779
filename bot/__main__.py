"""``python -m bot`` is the same as the ``seminar-bot`` command."""

from bot.cli import main

raise SystemExit(main())
