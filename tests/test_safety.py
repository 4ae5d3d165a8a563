"""Never lose the index: incremental updates, pruning, deleting, checking, and concurrent use.

Concurrency is tested with real processes: the real ``searchlib`` command,
paused while it holds the write lock, and readers that search while a writer
commits batch after batch.
"""

import contextlib
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback

import pytest
from conftest import CORPUS, doc, indexed_ids, write_notes
from whoosh import index as windex
from whoosh import query as wq

from searchlib import create_index, open_index
from searchlib.schema import make_schema
from searchlib.store import LOCK_FILE, META_FILE, ORIGINS_FILE, index_exists


@pytest.fixture()
def tree(tmp_path):
    """Two folders: docs/ (two text files and a JSONL file of two lines) and other/."""
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.txt").write_text("La traite des êtres humains.", encoding="utf-8")
    (docs / "sub" / "b.txt").write_text("Les victimes sont protégées.", encoding="utf-8")
    (docs / "d.jsonl").write_text('{"id": "j1", "text": "Premier."}\n{"id": "j2", "text": "Second."}\n', encoding="utf-8")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "c.txt").write_text("Un autre dossier.", encoding="utf-8")
    return tmp_path


def ids(path) -> list[str]:
    with open_index(path) as index:
        reader_ids = [h.doc_id for h in index.search("*", limit=1000, per_doc=True).hits]
    return sorted(reader_ids)


# -- incremental indexing ----------------------------------------------------


def test_safety_prune_removes_only_the_documents_whose_file_is_gone(run, tree):
    ix = tree / "ix"
    assert run("index", tree / "docs", tree / "other", "--index", ix).exit_code == 0
    (tree / "docs" / "sub" / "b.txt").unlink()
    (tree / "docs" / "d.jsonl").write_text('{"id": "j1", "text": "Premier."}\n', encoding="utf-8")
    (tree / "other" / "c.txt").unlink()  # gone too, but other/ is not indexed this time
    result = run("index", tree / "docs", "--index", ix, "--prune")
    assert result.exit_code == 0
    assert result.stdout.startswith("Indexed 0 documents (0 passages), 2 unchanged, 2 pruned in ")
    assert ids(ix) == ["a.txt", "c.txt", "j1"]


def test_safety_without_prune_nothing_is_removed(run, tree):
    ix = tree / "ix"
    run("index", tree / "docs", "--index", ix)
    (tree / "docs" / "a.txt").unlink()
    assert run("index", tree / "docs", "--index", ix).stdout.startswith("Indexed 0 documents (0 passages), 3 unchanged in ")
    assert ids(ix) == ["a.txt", "j1", "j2", "sub/b.txt"]


def test_safety_prune_knows_a_folder_by_any_name(run, tree, monkeypatch):
    ix = tree / "ix"
    monkeypatch.chdir(tree)
    run("index", "docs", "--index", ix)
    (tree / "link").symlink_to(tree / "docs")
    (tree / "docs" / "a.txt").unlink()
    result = run("index", tree / "link", "--index", ix, "--prune")
    assert "3 unchanged, 1 pruned" in result.stdout
    assert ids(ix) == ["j1", "j2", "sub/b.txt"]


def test_safety_prune_of_one_file_leaves_its_folder_alone(run, tree):
    ix = tree / "ix"
    run("index", tree / "docs", "--index", ix)
    (tree / "docs" / "sub" / "b.txt").unlink()
    result = run("index", tree / "docs" / "a.txt", "--index", ix, "--prune")
    assert result.stdout.startswith("Indexed 0 documents (0 passages), 1 unchanged in ")
    assert ids(ix) == ["a.txt", "j1", "j2", "sub/b.txt"]


def test_safety_prune_keeps_the_lines_of_a_jsonl_file_read_with_skipped_errors(run, tree):
    ix = tree / "ix"
    run("index", tree / "docs", "--index", ix)
    (tree / "docs" / "d.jsonl").write_text('{"id": "j1", "text": "Premier."}\nnot json\n', encoding="utf-8")
    result = run("index", tree / "docs", "--index", ix, "--prune", "--skip-errors")
    assert result.exit_code == 0
    assert "pruned" not in result.stdout
    assert ids(ix) == ["a.txt", "j1", "j2", "sub/b.txt"]


def test_safety_prune_never_touches_documents_given_as_objects(tree):
    index = create_index(tree / "ix")
    index.add([doc("note", "Une note sans fichier."), tree / "docs"])
    (tree / "docs" / "a.txt").unlink()
    report = index.add([tree / "docs"], prune=True)
    assert (report.pruned, report.unchanged) == (1, 3)
    assert ids(index.path) == ["j1", "j2", "note", "sub/b.txt"]


def test_safety_a_moved_file_is_not_analyzed_again_and_not_pruned_from_its_old_folder(run, tree):
    ix = tree / "ix"
    run("index", tree / "docs", "--index", ix)
    (tree / "moved").mkdir()
    (tree / "docs" / "a.txt").rename(tree / "moved" / "a.txt")
    moved = run("index", tree / "moved", "--index", ix)
    assert moved.stdout.startswith("Indexed 0 documents (0 passages), 1 unchanged in ")
    result = run("index", tree / "docs", "--index", ix, "--prune")
    assert "pruned" not in result.stdout  # a.txt is now read from moved/
    assert ids(ix) == ["a.txt", "j1", "j2", "sub/b.txt"]
    (tree / "moved" / "a.txt").unlink()
    result = run("index", tree / "moved", "--index", ix, "--prune")
    assert result.stdout.startswith("Indexed 0 documents (0 passages), 1 pruned in ")
    assert ids(ix) == ["j1", "j2", "sub/b.txt"]
    assert not (ix / ORIGINS_FILE).exists()  # no document is read from elsewhere any more


def test_safety_an_unchanged_copy_is_skipped_and_pruning_follows_where_it_was_last_read(run, tree):
    """The first search indexes the installed article, then `searchlib index corpus/` reads the checkout's copy."""
    ix = tree / "ix"
    (tree / "copy").mkdir()
    (tree / "copy" / "a.txt").write_bytes((tree / "docs" / "a.txt").read_bytes())
    run("index", tree / "docs", "--index", ix)
    again = run("index", tree / "copy", "--index", ix)
    assert again.stdout.startswith("Indexed 0 documents (0 passages), 1 unchanged in ")
    # Both copies exist: whichever folder is pruned, a.txt stays.
    for folder in ("copy", "docs"):
        assert "pruned" not in run("index", tree / folder, "--index", ix, "--prune").stdout
    assert ids(ix) == ["a.txt", "j1", "j2", "sub/b.txt"]
    # It was last read from docs/: gone from there, it is pruned from there (the
    # index knows one file per id: the one it read last).
    (tree / "docs" / "a.txt").unlink()
    assert run("index", tree / "docs", "--index", ix, "--prune").stdout.startswith(
        "Indexed 0 documents (0 passages), 3 unchanged, 1 pruned in "
    )
    assert ids(ix) == ["j1", "j2", "sub/b.txt"]


def test_safety_unchanged_documents_given_as_objects_are_skipped_and_never_pruned(tree):
    """As `searchlib eval --index` does with the documents of a corpus indexed before from its file."""
    index = create_index(tree / "ix")
    index.add([tree / "docs" / "d.jsonl"])
    report = index.add([doc("j1", "Premier."), doc("j2", "Second.")])
    assert (report.documents, report.unchanged) == (0, 2)
    (tree / "docs" / "d.jsonl").write_text('{"id": "j1", "text": "Premier."}\n', encoding="utf-8")
    assert index.add([tree / "docs" / "d.jsonl"], prune=True).pruned == 0
    assert ids(index.path) == ["j1", "j2"]
    # Changed, a document is analyzed again, and follows its new file.
    report = index.add([tree / "docs" / "d.jsonl"])
    (tree / "docs" / "d.jsonl").write_text('{"id": "j1", "text": "Premier, changé."}\n', encoding="utf-8")
    assert index.add([tree / "docs" / "d.jsonl"]).documents == 1
    (tree / "docs" / "d.jsonl").write_text("", encoding="utf-8")
    assert index.add([tree / "docs" / "d.jsonl"], prune=True).pruned == 1
    assert ids(index.path) == ["j2"]


def test_safety_a_document_analyzed_again_drops_its_recorded_origin(tree):
    index = create_index(tree / "ix")
    (tree / "other" / "a.txt").write_text("La traite des êtres humains.", encoding="utf-8")
    index.add([tree / "docs" / "a.txt"])
    assert index.add([tree / "other" / "a.txt"]).unchanged == 1
    origins = json.loads((index.path / ORIGINS_FILE).read_text(encoding="utf-8"))["documents"]
    assert list(origins) == ["a.txt"] and origins["a.txt"][1] == str(tree.resolve() / "other" / "a.txt")
    (tree / "other" / "a.txt").write_text("Les victimes de la traite.", encoding="utf-8")
    assert index.add([tree / "other" / "a.txt"]).documents == 1
    assert not (index.path / ORIGINS_FILE).exists()
    # Back to the first content, from the first file: analyzed again, from there.
    assert index.add([tree / "docs" / "a.txt"]).documents == 1
    (tree / "other" / "a.txt").unlink()
    assert index.add([tree / "other"], prune=True).pruned == 0
    assert [d.id for d in index.documents()] == ["a.txt", "c.txt"]


def test_safety_a_damaged_origins_file_is_reported_with_its_remedy(run, tree):
    ix = tree / "ix"
    run("index", tree / "docs", "--index", ix)
    (ix / ORIGINS_FILE).write_text("{", encoding="utf-8")
    for command in (["check"], ["index", tree / "docs"], ["delete", "a.txt"]):
        result = run(*command, "--index", ix)
        assert result.exit_code == 1
        assert result.stderr.startswith(f"Error: the index at {ix} is damaged: {ORIGINS_FILE} cannot be read (")
        assert result.stderr.endswith("remove that file (it only records where unchanged documents were last read "
                                      "from, for --prune), then index the folders again\n")
    assert run("search", "traite", "--index", ix).exit_code == 0


def test_safety_delete_command(run, seed_copy):
    result = run("delete", "000_5730bd4df953f932.txt", "nope", "--index", seed_copy.path)
    assert (result.exit_code, result.stdout) == (0, f"Deleted 1 document (1 not in the index) from {seed_copy.path}\n")
    assert seed_copy.info().documents == 0


def test_safety_delete_needs_an_existing_index(run, tmp_path):
    result = run("delete", "x", "--index", tmp_path / "nope")
    assert result.exit_code == 1
    assert result.stderr == f"Error: no index at {tmp_path / 'nope'}; build one with: searchlib index [PATH...] --index {tmp_path / 'nope'}\n"


def test_safety_an_index_made_before_documents_kept_their_file_gains_the_field(tmp_path, monkeypatch, tree):
    schema = make_schema()
    schema.remove("path")
    monkeypatch.setattr("searchlib.index.make_schema", lambda: schema)
    index = create_index(tmp_path / "old")
    monkeypatch.undo()
    assert "path" not in index._ix.schema
    index.add([tree / "docs"])
    (tree / "docs" / "a.txt").unlink()
    assert index.add([tree / "docs"], prune=True).pruned == 1
    assert "path" in open_index(index.path)._ix.schema


# -- check -------------------------------------------------------------------


def test_safety_check_command_reads_everything(run, seed_index):
    result = run("check", "--index", seed_index.path)
    assert result.exit_code == 0
    terms = seed_index.check().terms
    assert terms > 1000
    assert result.stdout == f"OK: 1 document, 24 passages, {terms} terms in 1 segment (commit 1) at {seed_index.path}\n"


def test_safety_check_finds_passages_without_their_document(run, seed_copy):
    # Damage only a library bug could do: the passages go, the record stays.
    writer = seed_copy._ix.writer()
    writer.delete_by_query(wq.Term("kind", "passage"))
    writer.commit()
    result = run("check", "--index", seed_copy.path)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: the index at {seed_copy.path} is damaged: searchlib check found 1 problem: document "
        "'000_5730bd4df953f932.txt' should have 24 passages, the index holds 0; rebuild it: move it aside, "
        f"then run searchlib index [PATH...] --index {seed_copy.path}\n"
    )


def test_safety_an_interrupted_creation_is_finished_by_the_next_run(run, tmp_path):
    # What a kill between Whoosh's empty table of contents and searchlib.json leaves.
    (tmp_path / "ix").mkdir()
    windex.create_in(str(tmp_path / "ix"), make_schema())
    (tmp_path / "ix" / "searchlib.json.tmp").write_text("{", encoding="utf-8")
    result = run("index", "--index", tmp_path / "ix")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Indexed 1 document (24 passages) in ")
    assert sorted(p.name for p in (tmp_path / "ix").iterdir() if p.suffix == ".tmp") == []


def test_safety_what_a_killed_writer_leaves_is_ignored_then_removed(seed_copy):
    ix = seed_copy.path
    [toc] = ix.glob("_MAIN_*.toc")
    generation = int(toc.stem.split("_")[-1])
    # A table of contents killed half-written, an uncommitted segment, sorting runs.
    (ix / f"_MAIN_{generation + 1}.toc.1732900000.25").write_bytes(toc.read_bytes()[:50])
    (ix / "MAIN_k1lledwr1ter0000.pst").write_bytes(b"\x00" * 64)
    (ix / "MAIN.tmp").mkdir()
    (ix / "MAIN.tmp" / "run0.run").write_bytes(b"\x01" * 64)
    with open_index(ix) as index:
        assert index.check().generation == generation
        assert index.search("traite").total > 0
    segments = {p.name for p in ix.glob("MAIN_*.seg")}
    assert seed_copy.add([CORPUS]).unchanged == 1  # a write, with nothing to commit
    assert {p.name for p in ix.iterdir()} == {"searchlib.json", "searchlib.lock", "MAIN_WRITELOCK", toc.name, *segments}


def test_safety_a_failed_commit_reports_its_own_error(seed_copy, monkeypatch):
    from whoosh.writing import SegmentWriter

    def disk_full(self, segments):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SegmentWriter, "_commit_toc", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        seed_copy.add([doc("x", "Un texte.")])
    monkeypatch.undo()
    assert seed_copy.info().documents == 1
    assert seed_copy.add([doc("x", "Un texte.")], wait=0).documents == 1


# -- concurrency -------------------------------------------------------------


def wait_for_lock(path, timeout=60.0):
    """Wait until a writer has taken the lock of the index at ``path``; return what it recorded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return json.loads((path / LOCK_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            time.sleep(0.01)
    raise AssertionError("no writer took the lock")


@pytest.mark.slow
def test_safety_a_second_writer_waits_then_names_the_holder(tmp_path, fork_cli):
    write_notes(tmp_path / "notes", 20)
    ix = tmp_path / "ix"
    create_index(ix)
    holder = fork_cli("index", tmp_path / "notes", "--index", ix, "--quiet")
    info = wait_for_lock(ix)
    os.kill(holder.pid, signal.SIGSTOP)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "searchlib", "index", tmp_path / "notes", "--index", ix, "--wait", "0.5"],
            capture_output=True, text=True, timeout=120,
        )
        assert second.returncode == 1
        assert second.stdout == ""
        assert second.stderr == (
            f"Error: the index at {ix} is being written by process {holder.pid} on {info['host']} "
            f"({info['command']!r}, since {info['since']}) (lock {ix / LOCK_FILE}); waited 0.5s. "
            "Wait for it to finish, or retry with a longer --wait\n"
        )
        patient = subprocess.Popen(
            [sys.executable, "-m", "searchlib", "index", tmp_path / "notes", "--index", ix, "--wait", "120"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
    finally:
        os.kill(holder.pid, signal.SIGCONT)
    holder.join()
    out, err = patient.communicate(timeout=120)
    assert (holder.exitcode, patient.returncode, err) == (0, 0, "")
    # It waited for the holder's commit, then found every note indexed.
    assert out.startswith("Indexed 0 documents (0 passages), 20 unchanged in ")


def watch(path, names, batch, thorough, stop, results):
    """Open and read the index until told to stop; report every state seen and every problem.

    A thorough watcher searches and checks each state it opens; the other
    only counts, so that it opens the index as often as it can.
    """
    seen, problems = [], []
    while not stop.is_set():
        if not index_exists(path):
            continue
        try:
            with open_index(path) as index:
                if thorough:
                    found = indexed_ids(index)
                    index.check()
                else:
                    info = index.info()
                    found = names[: info.documents]
                    if info.passages != 2 * info.documents:
                        problems.append(f"{info.documents} documents with {info.passages} passages")
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            problems.append(f"{type(exc).__name__}: {exc} at {where.filename}:{where.lineno} in {where.name}")
            continue
        if found != names[: len(found)] or len(found) % batch:
            problems.append(f"a partial state: {len(found)} documents")
        seen.append(len(found))
    results.put((seen, problems))


@pytest.mark.slow
def test_safety_readers_during_a_write_see_only_committed_states(tmp_path, fork_cli):
    names = write_notes(tmp_path / "notes", 200)
    ix = tmp_path / "ix"
    context = multiprocessing.get_context("fork")
    stop, results = context.Event(), context.Queue()
    readers = [context.Process(target=watch, args=(ix, names, 2, thorough, stop, results)) for thorough in (True, False)]
    for reader in readers:
        reader.start()
    writer = fork_cli("index", tmp_path / "notes", "--index", ix, "--batch-size", 2, "--quiet")
    writer.join()
    stop.set()
    reports = [results.get(timeout=120) for _ in readers]
    for reader in readers:
        reader.join()
    assert writer.exitcode == 0
    for seen, problems in reports:
        assert problems == [], problems
        # The reader ran during the write: it saw states between empty and full.
        assert len({n for n in seen if 0 < n < len(names)}) >= 2
    assert indexed_ids(open_index(ix)) == names


@pytest.mark.parametrize("command", ["delete", "check"])
def test_safety_new_commands_have_help(run, command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: main {command} [OPTIONS]")


@pytest.mark.slow
def test_safety_two_writers_creating_one_new_index_both_succeed(tmp_path, fork_cli, monkeypatch):
    names = write_notes(tmp_path / "notes", 5)
    # Both commands meet just before the new index gets its searchlib.json,
    # as two started at once sometimes do: each waits there (at most 2 s) for the other.
    meeting = multiprocessing.get_context("fork").Barrier(2)
    replace = os.replace

    def meet_then_replace(source, destination):
        if os.path.basename(destination) == META_FILE:
            with contextlib.suppress(threading.BrokenBarrierError):
                meeting.wait(timeout=2)
        return replace(source, destination)

    monkeypatch.setattr(os, "replace", meet_then_replace)
    for attempt in range(3):
        meeting.reset()
        ix = tmp_path / f"ix{attempt}"
        writers = [fork_cli("index", tmp_path / "notes", "--index", ix, "--quiet", "--wait", 60) for _ in range(2)]
        for writer in writers:
            writer.join()
        assert [w.exitcode for w in writers] == [0, 0], f"attempt {attempt}"
        with open_index(ix) as index:
            assert index.check().documents == len(names)
            assert indexed_ids(index) == names


@pytest.mark.slow
def test_safety_the_lock_is_not_held_while_the_language_model_loads(tmp_path):
    import fcntl

    write_notes(tmp_path / "notes", 5)
    ix = tmp_path / "ix"
    create_index(ix)
    command = [sys.executable, "-m", "searchlib", "index", tmp_path / "notes", "--index", ix, "--jobs", "1"]
    # A process of its own, which must load spaCy: measure how long it holds the lock meanwhile.
    writer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    held = 0.0
    with open(ix / LOCK_FILE, "a+b") as lock:
        while writer.poll() is None:
            try:
                fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
                fcntl.flock(lock, fcntl.LOCK_UN)
            except BlockingIOError:
                held += 0.02
            time.sleep(0.02)
    out, err = writer.communicate()
    assert (writer.returncode, err) == (0, "")
    model = float(re.search(r"after ([0-9.]+)s loading the language model", out).group(1))
    assert model > 1.0, out
    assert held < model / 2, (held, out)
    # Nothing to analyze: no model is loaded at all.
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.stdout.startswith("Indexed 0 documents (0 passages), 5 unchanged in ")
    assert "loading the language model" not in again.stdout
