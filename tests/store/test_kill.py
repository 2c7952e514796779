"""A writer killed with SIGKILL mid-loop leaves a consistent database (docs/reliability.md, fault matrix row 35)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.store.db import integrity_check, open_database
from bot.store.events import load_events
from bot.store.feeds import list_feeds
from tests.store.inspect_store import list_outbox

REPO_ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    from bot.core.diff import diff_feed
    from bot.store.db import open_database
    from bot.store.events import load_events, save_poll_result
    from bot.store.feeds import upsert_feed
    from tests.store.factories import T0, feed_of, occ

    db = open_database(sys.argv[1])
    feed_id = upsert_feed(db, name="jhu", url="https://example.edu/x.ics", now=T0).id
    for i in range(500):  # bounded: the test kills it long before the end
        now = T0 + timedelta(minutes=i)
        # One new event per poll, the earlier ones stay: one announcement per transaction.
        events = [occ(f"ev{k}", T0 + timedelta(hours=k + 1)) for k in range(i + 1)]
        result = diff_feed("s", load_events(db, feed_id), feed_of(events, now=now), now=now)
        save_poll_result(db, feed_id, result, now=now, etag=None, last_modified=None, body_hash=None)
        print(i, flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_during_writes_leaves_a_consistent_database(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO_ROOT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        committed = -1
        for _ in range(20):  # let a few transactions commit, then kill mid-stream
            line = proc.stdout.readline()
            if not line:
                break
            committed = int(line)
        assert committed >= 0, proc.stderr.read() if proc.stderr else "writer died"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    db = open_database(path)
    assert integrity_check(db) == "ok"
    (feed,) = list_feeds(db)
    outbox = list_outbox(db)
    events = load_events(db, feed.id)
    # Each committed poll left its events and outbox rows together, never one without the other.
    assert len(outbox) >= committed + 1
    announced = {e.announcement_id for e in events if e.revision > 0}
    assert announced == {r.announcement_id for r in outbox}
    assert len(events) == len(outbox)
    assert len({r.idem_key for r in outbox}) == len(outbox)
    assert all(r.nonce == f"ob{r.id}" for r in outbox)
