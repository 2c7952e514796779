"""seminar-bot: iCalendar feeds turned into Discord seminar announcements and reminders."""

__version__ = "0.1.0"
