"""Read replicas: the README's ``replicate.sh`` makes a consistent replica of an index that is being written.

Each test runs the script exactly as the README gives it (section "Read
replicas"), with the real rsync, on real indexes; the primary is written by
the real ``searchlib index`` command in another process. A commit adds one
batch of notes, so the replica of commit N must hold the bundled article
(commit 1) and exactly the first N - 1 batches: every document of that
commit, none of a later one, none twice, each with all its passages.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import CORPUS, ROOT, SEED_ID, write_notes
from whoosh import index as windex
from whoosh.filedb.filestore import FileStorage

from searchlib import Document, IndexCorruptError, NotAnIndexError, create_index, open_index
from searchlib.analysis import analyzer_for
from searchlib.languages import get_language
from searchlib.schema import KIND_DOC
from searchlib.store import LOCK_FILE, META_FILE

RSYNC = shutil.which("rsync")
pytestmark = pytest.mark.skipif(RSYNC is None, reason="rsync is absent; install it with: apt-get install -y rsync")

#: Documents per commit of the primary.
BATCH = 2
#: A word of the bundled article that no note has.
ARTICLE_WORD = "impunité"


def readme_script() -> str:
    """``replicate.sh`` as the README's section "Read replicas" gives it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```sh\n(#!/bin/sh\n# replicate\.sh .+?)```", readme, re.DOTALL)
    assert found, "README.md has no replicate.sh block"
    return found.group(1)


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("script") / "replicate.sh"
    path.write_text(readme_script(), encoding="utf-8")
    return path


def shell_env(path_first: Path | None = None) -> dict[str, str]:
    """This environment, with this Python as ``python3`` (the README: searchlib's Python)."""
    folders = [str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    if path_first is not None:
        folders.insert(0, str(path_first))
    return {**os.environ, "PATH": os.pathsep.join(folders)}


def replicate(script: Path, primary: Path, replica: Path, env: dict[str, str] | None = None):
    return subprocess.run(["sh", str(script), str(primary), str(replica)], env=env or shell_env(),
                          capture_output=True, text=True, timeout=300)


def listed_files(folder: Path) -> set[str]:
    """The files that the newest table of contents in ``folder`` uses, itself included."""
    toc = windex.TOC.read(FileStorage(str(folder)), "MAIN")
    return {f"_MAIN_{toc.generation}.toc", *(segment.make_filename(".seg") for segment in toc.segments)}


def one_commit(replica: Path, names: list[str]) -> tuple[int, int]:
    """Check that ``replica`` holds one commit of the primary, whole; return that commit and its segments."""
    with open_index(replica) as index:
        report = index.check()
        documents = index.documents()
    ids = sorted(d.id for d in documents)
    expected = sorted([SEED_ID, *names[: (report.generation - 1) * BATCH]])
    assert ids == expected, f"commit {report.generation}: {len(ids)} documents, not {len(expected)}"
    assert (report.documents, report.passages) == (len(ids), sum(d.passages for d in documents))
    return report.generation, report.segments


def replica_of_one_commit(replica: Path, names: list[str], run) -> tuple[int, int]:
    """:func:`one_commit`, with exactly that commit's files, and the command finding the article in it."""
    generation, segments = one_commit(replica, names)
    # No lock file, nothing left over.
    assert {p.name for p in replica.iterdir()} == {META_FILE, *listed_files(replica)}
    result = run("search", ARTICLE_WORD, "--index", replica, "--per-doc", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [hit["doc_id"] for hit in json.loads(result.stdout)["hits"]] == [SEED_ID]
    return generation, segments


def primary_with_article(path: Path) -> Path:
    with create_index(path) as index:
        index.add([CORPUS], jobs=1)  # commit 1
    return path


def notes_of(folder: Path, names: list[str]) -> list[Document]:
    return [Document(id=name, text=(folder / name).read_text(encoding="utf-8")) for name in names]


@pytest.mark.slow
def test_replica_taken_at_random_moments_of_an_indexing_run_is_one_of_its_commits(tmp_path, script, fork_cli, run):
    names = write_notes(tmp_path / "notes", 500)
    primary = primary_with_article(tmp_path / "primary")
    assert run("search", ARTICLE_WORD, "--index", primary).exit_code == 0  # query analysis loaded before the clock runs
    writer = fork_cli("index", tmp_path / "notes", "--index", primary, "--batch-size", BATCH, "--jobs", 1, "--quiet")
    rnd = random.Random(11)
    taken: list[tuple[int, int]] = []
    while writer.is_alive():
        time.sleep(rnd.uniform(0, 0.3))
        replica = tmp_path / f"replica{len(taken)}"
        result = replicate(script, primary, replica)
        assert result.returncode == 0, result.stderr
        taken.append(replica_of_one_commit(replica, names, run))
    writer.join()
    assert writer.exitcode == 0
    last = len(names) // BATCH + 1
    during = [(generation, segments) for generation, segments in taken if 1 < generation < last]
    assert len(during) >= 3, taken
    # Commits had merged segments by then: a replica holds fewer segments than commits.
    assert any(segments < generation for generation, segments in during), taken
    result = replicate(script, primary, tmp_path / "replica0")  # an old replica, brought up to date
    assert result.returncode == 0, result.stderr
    assert replica_of_one_commit(tmp_path / "replica0", names, run)[0] == last


# -- a primary that commits between any two rsync calls ----------------------

#: The test looks at the replica; then ``rsync``; then the primary finishes one commit and stops halfway
#: through writing the segment of its next one.
GATED_RSYNC = """#!/bin/sh
: > '{gate}/look'
while [ -e '{gate}/look' ]; do sleep 0.01; done
{rsync} "$@" && status=0 || status=$?
echo "$*" >> '{gate}/calls'
if [ ! -e '{gate}/done' ]; then
    : > '{gate}/go'
    while [ -e '{gate}/go' ] && [ ! -e '{gate}/done' ]; do sleep 0.01; done
    while [ ! -e '{gate}/paused' ] && [ ! -e '{gate}/done' ]; do sleep 0.01; done
fi
exit $status
"""


def _index_pausing_in_each_segment(args: list[str], gate: Path) -> None:
    """``searchlib index ARGS``, stopping halfway through each segment file it writes until ``gate/go`` appears."""
    from whoosh.filedb import compound

    from searchlib.cli import main

    copy = compound.copyfileobj
    writing: list = [None]

    def pausing_copy(source, target, *rest, **kwargs):
        copied = copy(source, target, *rest, **kwargs)
        if target is not writing[0]:  # the first part of a new segment file is written
            writing[0] = target
            target.flush()
            (gate / "paused").touch()
            while not (gate / "go").exists():
                time.sleep(0.005)
            (gate / "paused").unlink()
            (gate / "go").unlink()
        return copied

    compound.copyfileobj = pausing_copy
    try:
        main(args, prog_name="searchlib")
    finally:
        (gate / "done").touch()


@pytest.mark.slow
def test_replica_is_one_commit_after_each_step_while_the_primary_commits_between_steps(tmp_path, script, run):
    """Between two rsync calls of the script, the primary publishes a commit and leaves the segment of its next
    one half written, under its final name: every step meets a primary that changed since the step before, and
    a half-written segment that the next commit lists. Before every rsync call and after every run, the replica
    is one commit, whole."""
    names = write_notes(tmp_path / "notes", 48)
    primary = primary_with_article(tmp_path / "primary")
    gate = tmp_path / "gate"
    (gate / "bin").mkdir(parents=True)
    wrapper = gate / "bin" / "rsync"
    wrapper.write_text(GATED_RSYNC.format(rsync=RSYNC, gate=gate), encoding="utf-8")
    wrapper.chmod(0o755)
    replica = tmp_path / "replica"
    looked: list[int] = []
    problems: list[str] = []
    stop = threading.Event()

    def look_between_steps() -> None:
        while not stop.is_set():
            if not (gate / "look").exists():
                time.sleep(0.005)
                continue
            try:
                if any(replica.glob("_MAIN_*.toc")):  # once the first run has put one in place
                    looked.append(one_commit(replica, names)[0])
            except Exception as exc:  # any error is what this test is about
                problems.append(f"before rsync call {len(looked) + len(problems) + 1}: {type(exc).__name__}: {exc}")
            (gate / "look").unlink()

    analyzer_for(get_language("fr"))  # loaded here, so that the child forked from this process starts at once
    args = ["index", str(tmp_path / "notes"), "--index", str(primary), "--batch-size", str(BATCH), "--jobs", "1",
            "--quiet"]
    writer = multiprocessing.get_context("fork").Process(target=_index_pausing_in_each_segment, args=(args, gate))
    writer.start()
    looker = threading.Thread(target=look_between_steps)
    looker.start()
    try:
        deadline = time.monotonic() + 60
        while not (gate / "paused").exists():
            assert writer.is_alive() and time.monotonic() < deadline, "the primary wrote no segment"
            time.sleep(0.01)
        calls, generations = [], []
        while not (gate / "done").exists():
            before = len((gate / "calls").read_text().splitlines()) if (gate / "calls").exists() else 0
            result = replicate(script, primary, replica, shell_env(path_first=gate / "bin"))
            assert result.returncode == 0, result.stderr
            calls.append(len((gate / "calls").read_text().splitlines()) - before)
            generations.append(replica_of_one_commit(replica, names, run)[0])
        writer.join(60)
        assert writer.exitcode == 0
    finally:
        stop.set()
        looker.join()
        if writer.is_alive():
            writer.kill()
        writer.join()
    assert problems == []
    assert len(looked) >= 2 * (len(generations) - 1)  # every run's two steps, once the first put a commit in place
    assert len(generations) >= 5 and generations == sorted(generations), generations
    # A commit merged away a segment that the table of contents of step 1 listed, and the script started again.
    assert max(calls) > 2, calls
    assert replicate(script, primary, replica).returncode == 0
    assert replica_of_one_commit(replica, names, run)[0] == len(names) // BATCH + 1


# -- refreshing a replica that is being read ---------------------------------


@pytest.mark.slow
def test_replica_refreshed_in_place_keeps_an_open_index_searching(tmp_path, script):
    """Searches on an Index opened on the replica go on during each refresh, and see each new commit whole; a
    search that began before a refresh reads its own commit to the end, though step 5 deleted its files."""
    names = write_notes(tmp_path / "notes", 56)
    notes = notes_of(tmp_path / "notes", names)
    primary = create_index(tmp_path / "primary")
    primary.add([CORPUS], jobs=1)
    primary.add(notes[:8], batch_size=BATCH, jobs=1)
    replica_path = tmp_path / "replica"
    assert replicate(script, primary.path, replica_path).returncode == 0
    replica = open_index(replica_path)

    def notes_found() -> list[str]:
        return sorted(h.doc_id for h in replica.search("note", per_doc=True, limit=1000).hits)

    assert [h.doc_id for h in replica.search(ARTICLE_WORD, per_doc=True).hits] == [SEED_ID]
    assert notes_found() == names[:8]
    stop = threading.Event()
    problems: list[str] = []
    seen: set[int] = set()

    def search_all_along() -> None:
        while not stop.is_set():
            try:
                found = notes_found()
                if found != names[: len(found)]:
                    problems.append(f"a search saw {len(found)} notes, not a commit of the primary")
                if [h.doc_id for h in replica.search(ARTICLE_WORD, per_doc=True).hits] != [SEED_ID]:
                    problems.append("a search lost the article")
                seen.add(len(found))
            except Exception as exc:  # any error is what this test is about
                problems.append(f"{type(exc).__name__}: {exc}")

    with replica._reading() as running:  # a search that began before the refreshes
        first_files = listed_files(replica_path)
        records = list(running.reader().all_stored_fields())
        threads = [threading.Thread(target=search_all_along) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            for start in range(8, len(names), 16):
                primary.add(notes[start : start + 16], batch_size=BATCH, jobs=1)  # eight commits, merging segments
                result = replicate(script, primary.path, replica_path)
                assert result.returncode == 0, result.stderr
                time.sleep(0.2)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert problems == []
        # Searches saw the commit of each refresh, and only those.
        assert seen == {8, 24, 40, 56}
        # Segments of the first commit were merged away: step 5 deleted them from the replica ...
        assert {name for name in first_files if name.endswith(".seg")} - {p.name for p in replica_path.iterdir()}
        # ... and the search that began before reads every record and postings list of its commit to the end.
        assert list(running.reader().all_stored_fields()) == records
        doc_ids = running.reader().column_reader("doc_id")
        kept = sorted(doc_ids[n] for n in running.document_numbers(kind=KIND_DOC))
        assert kept == sorted([SEED_ID, *names[:8]])
    assert notes_found() == names
    assert replica.check().documents == len(names) + 1
    replica.close()
    primary.close()


# -- what goes wrong, and what the script does about it -----------------------


@pytest.mark.parametrize(
    ("copied_first", "error", "message"),
    [
        (
            ["_MAIN_*.toc", META_FILE],
            IndexCorruptError,
            r"the index at \S+ is damaged: its segment file MAIN_\w+\.seg cannot be read \(FileNotFoundError: ",
        ),
        (["_MAIN_*.toc"], NotAnIndexError, rf"\S+ is not a searchlib index \(it has no {re.escape(META_FILE)}\)"),
    ],
)
def test_replica_table_of_contents_copied_before_its_segments_is_refused_in_one_line(
    tmp_path, script, seed_copy, copied_first, error, message
):
    primary, replica = seed_copy.path, tmp_path / "replica"
    seed_copy.close()
    replica.mkdir()
    includes = [f"--include={pattern}" for pattern in copied_first]
    subprocess.run([RSYNC, "-a", *includes, "--exclude=*", f"{primary}/", f"{replica}/"], check=True)
    assert not list(replica.glob("MAIN_*.seg"))
    with pytest.raises(error, match=message):
        open_index(replica)
    searchlib = Path(sys.executable).parent / "searchlib"
    for command in (["search", ARTICLE_WORD], ["check"]):
        result = subprocess.run([str(searchlib), *command, "--index", str(replica)], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 1
        assert result.stdout == ""
        assert re.fullmatch(rf"Error: {message}[^\n]*\n", result.stderr), result.stderr
    # The script makes a replica of that folder all the same.
    assert replicate(script, primary, replica).returncode == 0
    with open_index(replica) as index:
        assert index.check().documents == 1
        assert [h.doc_id for h in index.search(ARTICLE_WORD, per_doc=True).hits] == [SEED_ID]


def replica_one_commit_behind(tmp_path: Path, script: Path) -> tuple[list[str], Path, Path]:
    """A primary of the article and 6 notes, and its replica taken when it had 4 of them: one commit behind."""
    names = write_notes(tmp_path / "notes", 6)
    primary = primary_with_article(tmp_path / "primary")
    replica = tmp_path / "replica"
    with open_index(primary) as index:
        index.add(notes_of(tmp_path / "notes", names[:4]), batch_size=BATCH, jobs=1)
        assert replicate(script, primary, replica).returncode == 0
        index.add(notes_of(tmp_path / "notes", names[4:]), batch_size=BATCH, jobs=1)
    return names, primary, replica


def test_replica_script_copies_again_a_segment_copied_while_it_was_written(tmp_path, script, run):
    """A copy of a segment taken while it was written, which rsync takes for whole (its size and time are the
    primary's), is found by step 3, deleted and copied again before its table of contents is put in place."""
    names, primary, replica = replica_one_commit_behind(tmp_path, script)
    [name] = {n for n in listed_files(primary) - listed_files(replica) if n.endswith(".seg")}
    whole = (primary / name).read_bytes()
    (replica / name).write_bytes(bytes(12) + whole[12:])  # its header is written last
    shutil.copystat(primary / name, replica / name)
    assert replicate(script, primary, replica).returncode == 0
    assert (replica / name).read_bytes() == whole
    assert replica_of_one_commit(replica, names, run)[0] == 4


def test_replica_script_never_puts_in_place_a_table_of_contents_whose_segment_is_gone(tmp_path, script, run):
    """When a commit merges away a segment after step 1, the script starts again; when it never gets a whole
    commit, it stops with one line, and the replica stays at the commit it had."""
    names, primary, replica = replica_one_commit_behind(tmp_path, script)
    before = {p.name: p.stat().st_mtime_ns for p in replica.iterdir()}
    [name] = {n for n in listed_files(primary) - listed_files(replica) if n.endswith(".seg")}
    (primary / name).unlink()  # as a merge would, right after step 1: here, at every attempt
    result = replicate(script, primary, replica)
    assert result.returncode == 1
    assert result.stderr == f"replicate.sh: no whole commit of {primary} in 10 attempts; run it again\n"
    assert {p.name: p.stat().st_mtime_ns for p in replica.iterdir()} == before
    assert replica_of_one_commit(replica, names, run)[0] == 3


def test_replica_of_a_rebuilt_primary_is_refused_in_one_line(tmp_path, script, run):
    names = write_notes(tmp_path / "notes", 4)
    primary = primary_with_article(tmp_path / "primary")
    with open_index(primary) as index:
        index.add(notes_of(tmp_path / "notes", names), batch_size=BATCH, jobs=1)
    replica = tmp_path / "replica"
    assert replicate(script, primary, replica).returncode == 0
    shutil.rmtree(primary)
    primary_with_article(primary)  # its commits count from 1 again
    result = replicate(script, primary, replica)
    assert result.returncode == 1
    assert result.stderr == f"replicate.sh: {replica} is at commit 3, past the 1 of {primary}; make a new replica\n"
    assert replica_of_one_commit(replica, names, run)[0] == 3
    assert not (replica / LOCK_FILE).exists()
