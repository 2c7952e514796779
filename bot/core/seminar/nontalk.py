"""Events that are not talks: meetings, holidays, breaks, office hours, deadlines.

Such events never get a speaker, whatever their text says ("Faculty meeting: Ada Quill presides"
names a chair, not a speaker).
"""

from __future__ import annotations

import re

_NOT_A_TALK = re.compile(
    r"\b(?:faculty meeting|staff meeting|department meeting|business meeting|board meeting|"
    r"committee meeting|town hall|holiday|holidays|reading week|reading period|spring break|"
    r"fall break|winter break|thanksgiving|recess|no (?:seminar|colloquium|class|classes|talk)|"
    r"office hours?|deadline|due date|exam(?:s|ination)? period|final exams?|midterms?|"
    r"registration (?:opens|closes)|add/drop|last day|first day of classes|classes (?:begin|end)|"
    r"commencement|graduation|convocation|orientation|open house|university closed|"
    r"campus closed|closure|potluck|picnic|happy hour|party|social hour|ice cream social|"
    r"bbq|barbecue|cookout|coffee hour|study break|game night|movie night|grades due|retreat|"
    r"info(?:rmation)? session|welcome back|end[- ]of[- ](?:term|year) (?:celebration|social)|"
    r"fakultätsrat|institutsrat|sitzung|feiertag|ferien|vorlesungsfrei|sprechstunde|"
    r"réunion|vacances|jour férié|congé|permanence|date limite|"
    r"reunión|vacaciones|festivo|día festivo|horario de atención|fecha límite|"
    r"consejo de departamento|"
    # "Seminar cancelled: Title" announces that nothing happens; the talk's own (renamed) event
    # ("CANCELLED--Title") still reads as a talk.
    r"(?:seminar|colloquium|talk|lecture|class)s? (?:is |has been )?(?:cancel+ed|postponed))\b",
    re.IGNORECASE,
)


def is_not_a_talk(summary: str) -> bool:
    return _NOT_A_TALK.search(summary) is not None
