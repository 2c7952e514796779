"""``python -m bench.extraction``: how well seminar fields are read, against labels by hand.

Each labelled set is a folder with ``.ics`` files and a ``labels.toml`` (one ``[[event]]`` per
VEVENT: ``file``, ``uid``, ``talk``, and for talks ``speakers``, ``affiliation``, ``title``,
``series``, ``place``). A field counts as right when it equals the label after light
normalisation (case, spacing, quotes, a trailing period; speakers in any order); an empty label
expects an empty field.
Printed per producer (the file name) and overall::

    extraction_speaker: 97.5 %
    non_talks_with_speaker: 0

``--labels DIR`` (repeatable) scores other sets, e.g. one kept outside the repository.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.core.models import Occurrence
from bot.core.parse import parse_feed

FIELDS = ("speaker", "affiliation", "title", "series", "place")
ROOT = Path(__file__).resolve().parent.parent
OUR_SET = ROOT / "tests" / "fixtures" / "extraction"
#: Real seminar feeds labelled by hand; their .ics files stay in the shared corpus.
CORPUS_LABELS = ROOT / "tests" / "fixtures" / "extraction_corpus" / "labels.toml"
CORPUS_DIR = ROOT.parent / "shared" / "ics-corpus"
_WINDOW = (datetime(1990, 1, 1, tzinfo=UTC), datetime(2060, 1, 1, tzinfo=UTC))


@dataclass
class Score:
    talks: int = 0
    non_talks: int = 0
    non_talks_with_speaker: int = 0
    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    misses: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.talks += other.talks
        self.non_talks += other.non_talks
        self.non_talks_with_speaker += other.non_talks_with_speaker
        for name in FIELDS:
            self.right[name] += other.right[name]
        self.misses.extend(other.misses)

    def percent(self, name: str) -> float:
        return 100.0 * self.right[name] / self.talks if self.talks else 100.0


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[“”„«»\"]", "", text).replace("’", "'").replace("–", "-").replace("—", "-")
    text = " ".join(text.split()).strip(" .")
    return text


def predicted(occ: Occurrence) -> dict[str, Any]:
    seminar = occ.seminar
    speakers = list(seminar.speakers) or ([seminar.speaker] if seminar.speaker else [])
    return {
        "speaker": sorted(normalise(s) for s in speakers),
        "affiliation": normalise(seminar.affiliation),
        "title": normalise(seminar.title),
        "series": normalise(seminar.series),
        "place": normalise(occ.place or seminar.online_url),
    }


def expected(label: dict[str, Any]) -> dict[str, Any]:
    return {
        "speaker": sorted(normalise(str(s)) for s in label.get("speakers", [])),
        "affiliation": normalise(str(label.get("affiliation", ""))),
        "title": normalise(str(label.get("title", ""))),
        "series": normalise(str(label.get("series", ""))),
        "place": normalise(str(label.get("place", ""))),
    }


def _occurrences(path: Path) -> dict[str, Occurrence]:
    parsed = parse_feed(path.read_bytes(), window_start=_WINDOW[0], window_end=_WINDOW[1])
    by_uid: dict[str, Occurrence] = {}
    for occ in parsed.occurrences:
        by_uid.setdefault(occ.key.uid, occ)
    return by_uid


def score_set(labels_file: Path, ics_dir: Path) -> dict[str, Score]:
    """Scores per producer (file stem) for one labelled set; absent .ics files are skipped."""
    events = tomllib.loads(labels_file.read_text(encoding="utf-8")).get("event", [])
    cache: dict[str, dict[str, Occurrence]] = {}
    scores: dict[str, Score] = defaultdict(Score)
    for label in events:
        name = str(label["file"])
        path = ics_dir / name
        if not path.exists():
            continue
        if name not in cache:
            cache[name] = _occurrences(path)
        occ = cache[name].get(str(label["uid"]))
        score = scores[label.get("producer", Path(name).stem)]
        if not label.get("talk", True):
            score.non_talks += 1
            if occ is not None and (occ.seminar.speaker or occ.seminar.speakers):
                score.non_talks_with_speaker += 1
                score.misses.append(f"{name} {label['uid']}: non-talk got {occ.seminar.speaker!r}")
            continue
        score.talks += 1
        got = predicted(occ) if occ is not None else dict.fromkeys(FIELDS, "")
        want = expected(label)
        for name_ in FIELDS:
            if got[name_] == want[name_]:
                score.right[name_] += 1
            else:
                score.misses.append(
                    f"{name} {label['uid']}: {name_} {got[name_]!r} != {want[name_]!r}"
                )
    return dict(scores)


def report(scores: dict[str, Score], heading: str, show_misses: bool) -> Score:
    total = Score()
    print(f"# {heading}")
    for producer in sorted(scores):
        score = scores[producer]
        total.add(score)
        figures = " ".join(f"{name}={score.percent(name):.0f}%" for name in FIELDS)
        print(f"{producer}: talks={score.talks} non_talks={score.non_talks} {figures}")
    for name in FIELDS:
        print(f"extraction_{name}: {total.percent(name):.1f} %")
    print(f"non_talks_with_speaker: {total.non_talks_with_speaker}")
    print(f"talks: {total.talks} non_talks: {total.non_talks}")
    if show_misses:
        for miss in total.misses:
            print(f"  miss: {miss}")
    return total


def labelled_sets(extra: Iterable[Path]) -> list[tuple[str, Path, Path]]:
    sets = [("our set", OUR_SET / "labels.toml", OUR_SET)]
    if CORPUS_LABELS.exists() and CORPUS_DIR.is_dir():
        sets.append(("corpus feeds", CORPUS_LABELS, CORPUS_DIR))
    for folder in extra:
        sets.append((str(folder), folder / "labels.toml", folder))
    return sets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.extraction", description=__doc__)
    parser.add_argument("--labels", type=Path, action="append", default=[],
                        help="another folder with .ics files and labels.toml")  # fmt: skip
    parser.add_argument("--misses", action="store_true", help="list every wrong field")
    args = parser.parse_args(argv)
    for heading, labels_file, ics_dir in labelled_sets(args.labels):
        if not labels_file.exists():
            print(f"# {heading}: no labels.toml, skipped", file=sys.stderr)
            continue
        report(score_set(labels_file, ics_dir), heading, args.misses)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
