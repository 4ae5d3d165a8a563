"""Crash safety: an indexing process killed with SIGKILL at random points never damages the index.

Each run is the real ``searchlib index`` command in a child process, killed
after a random delay; the next run is the same command again, so the loop
also shows that rerunning it completes the work. Batches are small, so most
kills land in a commit: while segment files are written, merged, or the
table of contents is replaced.
"""

import os
import random
import shutil
import signal
import time

import pytest
from conftest import indexed_ids, write_notes
from whoosh import index as windex
from whoosh.filedb.filestore import FileStorage

from searchlib import open_index
from searchlib.store import LOCK_FILE, META_FILE, index_exists

KILLS = 24
BATCH = 5
NOTES = 240


def leftovers(path) -> list[str]:
    """The files of ``path`` that no committed state uses: what a killed writer left."""
    if not path.is_dir():
        return []
    toc = windex.TOC.read(FileStorage(str(path)), "MAIN") if index_exists(path) else None
    used = {META_FILE, LOCK_FILE, "MAIN_WRITELOCK"}
    if toc is not None:
        used.add(f"_MAIN_{toc.generation}.toc")
        used.update(f"{segment.segment_id()}.seg" for segment in toc.segments)
    return sorted(entry.name for entry in path.iterdir() if entry.name not in used)


def committed_state(path, names):
    """Check the index after a kill and return how many documents it holds.

    Every commit adds exactly one batch, so the index at commit N (Whoosh's
    table-of-contents generation) must hold exactly the first N batches.
    """
    if not index_exists(path):
        # Killed while creating the index: nothing was committed.
        return 0
    with open_index(path) as index:
        report = index.check()
        ids = indexed_ids(index)
    assert ids == names[: report.generation * BATCH]
    assert report.documents == len(ids)
    return len(ids)


@pytest.mark.slow
def test_crash_sigkill_at_random_points_never_loses_a_commit(tmp_path, fork_cli):
    names = write_notes(tmp_path / "notes", NOTES)
    path = tmp_path / "index"
    # --wait 0: a lock left by the killed run must not stop the next one.
    command = ["index", tmp_path / "notes", "--index", path, "--batch-size", BATCH, "--wait", 0, "--quiet"]
    rnd = random.Random(6)
    window = 0.1
    kills = debris = 0
    while kills < KILLS:
        before = committed_state(path, names)
        child = fork_cli(*command)
        time.sleep(rnd.uniform(0, window))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        if child.exitcode == 0:  # it finished first: start again from nothing
            assert committed_state(path, names) == NOTES
            shutil.rmtree(path)
            continue
        assert child.exitcode == -signal.SIGKILL
        kills += 1
        if leftovers(path):
            debris += 1
        after = committed_state(path, names)
        assert after >= before
        # Widen the window when a run died before committing anything, so
        # that later runs get past re-reading the notes already indexed.
        window = window * 1.5 if after == before else max(0.1, window * 0.8)
    assert debris > 0, "no kill landed while a commit was being written"

    last = fork_cli(*command)
    last.join()
    assert last.exitcode == 0
    assert committed_state(path, names) == NOTES
    assert leftovers(path) == []
    assert (path / LOCK_FILE).read_text() == ""
