"""Crash safety: an indexing process killed with SIGKILL at random points never damages the index.

Each run is the real ``searchlib index`` command in a child process, killed
after a random delay; the next run is the same command again, so the loop
also shows that rerunning it completes the work. Batches are small, so most
kills land in a commit: while segment files are written, merged, or the
table of contents is replaced.
"""

import json
import os
import random
import re
import shutil
import signal
import time

import pytest
from conftest import CORPUS, indexed_ids, write_notes
from whoosh import index as windex
from whoosh.filedb.filestore import FileStorage

import searchlib.store
from searchlib import create_index, open_index
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


def test_crash_a_commit_syncs_its_segments_then_its_table_of_contents_then_the_folder(tmp_path, monkeypatch):
    """whoosh3 never calls fsync. Before a commit returns, searchlib syncs the segment files it adds, the
    folder, the new table of contents before its rename, and the folder again: a power cut leaves either
    the old commit or the new one, whole. Segments of earlier commits are not synced again."""
    index = create_index(tmp_path / "index")
    synced: list[str] = []
    real = searchlib.store._fsync

    def recording(path):
        if path == index.path:
            synced.append("folder")
        else:
            # The table of contents is synced under its temporary name, before the rename makes it current.
            assert not path.name.startswith("_MAIN_") or not (path.parent / path.name.rsplit(".", 2)[0]).exists()
            synced.append(path.name)
        real(path)

    monkeypatch.setattr(searchlib.store, "_fsync", recording)

    def last_commit() -> tuple[list[str], list[str]]:
        """The segment files the last commit synced, and the segments its table of contents lists."""
        toc = windex.TOC.read(FileStorage(str(index.path)), "MAIN")
        assert synced[-1] == "folder" and synced[-3] == "folder", synced
        assert re.fullmatch(rf"_MAIN_{toc.generation}\.toc\.[0-9.]+", synced[-2]), synced
        start = max((i + 1 for i, name in enumerate(synced[:-3]) if name.startswith("_MAIN_")), default=0)
        return [name for name in synced[start:-3] if name.endswith(".seg")], [f"{s.segment_id()}.seg" for s in toc.segments]

    index.add([CORPUS])
    added, segments = last_commit()
    assert segments and added == segments
    note = tmp_path / "note.txt"
    note.write_text("Une note sur la traite des êtres humains.", encoding="utf-8")
    index.add([note])
    added, later = last_commit()
    assert len(later) > len(segments) and added == [s for s in later if s not in segments]
    assert index.delete(["note.txt"]) == 1
    added, _ = last_commit()
    assert added == [], "a deletion lives in the table of contents: no segment to sync"
    assert open_index(index.path).search("traite").total > 0


def test_crash_a_new_index_syncs_its_first_table_of_contents_and_its_meta_file(tmp_path, monkeypatch):
    """Whoosh writes the first table of contents without a sync, and later commits sync only their own
    files: a new index syncs it, then searchlib.json before its rename, then its folder and the folder
    that holds it, so that a power cut after it filled up cannot leave it without either."""
    path = tmp_path / "new" / "index"
    synced: list[str] = []
    real = searchlib.store._fsync

    def recording(synced_path):
        if synced_path.is_dir():
            synced.append("folder" if synced_path == path else f"parent {synced_path.name}")
        else:
            synced.append(synced_path.name)
            if synced_path.name.endswith(".tmp"):
                # Synced under its temporary name, whole, before the rename makes it current.
                assert not (path / META_FILE).exists()
                assert json.loads(synced_path.read_text(encoding="utf-8"))["format"]
        real(synced_path)

    monkeypatch.setattr(searchlib.store, "_fsync", recording)
    index = create_index(path)
    assert synced == ["_MAIN_0.toc", f"{META_FILE}.tmp", "folder", "parent new"], synced
    assert sorted(p.name for p in path.iterdir() if not p.name.startswith(".")) == sorted(["_MAIN_0.toc", META_FILE, LOCK_FILE])
    synced.clear()
    index.add([CORPUS])
    assert "_MAIN_0.toc" not in synced and META_FILE + ".tmp" not in synced, "written once, at creation"
    assert open_index(path).search("traite").total > 0
