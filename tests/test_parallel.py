"""Indexing in worker processes and in chunks gives the index that one process gives."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest
from conftest import CORPUS, doc, shared, words

from searchlib import Document, create_index
from searchlib import pipeline
from searchlib.schema import KIND_DOC

QUERIES = ["maison", "jeune fille", '"jeune fille"', "amour~", "prince*", "Paris", "entity:Paris", "NOT maison"]


def eltec(n: int) -> list[Document]:
    path = shared("eltec-fra/corpus.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [Document(id=d["id"], text=d["text"], title=d["title"]) for d in map(json.loads, itertools.islice(lines, n))]


def snapshot(index) -> tuple:
    """Everything an index holds that a user can see: stored fields, terms and their counts, results."""
    with index._ix.searcher() as searcher:
        stored = sorted(
            (json.dumps(fields, sort_keys=True, default=list) for fields in searcher.all_stored_fields()),
        )
        reader = searcher.reader()
        terms = {(f, t): (reader.doc_frequency(f, t), reader.frequency(f, t)) for f, t in reader.all_terms()}
    results = [index.search(q, limit=20).to_dict() for q in QUERIES]
    return stored, terms, results


@pytest.fixture()
def workers_started(monkeypatch):
    """Counts the pools of worker processes started, so a test knows that it ran in parallel."""
    started = []
    real = pipeline._executor

    def counting(*args):
        started.append(args)
        return real(*args)

    monkeypatch.setattr(pipeline, "_executor", counting)
    return started


@pytest.fixture(scope="module")
def novels() -> list[Document]:
    return eltec(40)


@pytest.fixture(scope="module")
def one_process(novels, tmp_path_factory):
    index = create_index(tmp_path_factory.mktemp("serial") / "index")
    index.add(novels, jobs=1)
    return snapshot(index)


@pytest.mark.parametrize("jobs", [2, 3])
def test_parallel_jobs_give_the_same_index_as_one_process(novels, one_process, tmp_path, monkeypatch, workers_started, jobs):
    # Small tasks, so that every worker gets several.
    monkeypatch.setattr(pipeline, "TASK_CHARS", 8_000)
    index = create_index(tmp_path / "index")
    report = index.add(novels, jobs=jobs)
    assert len(workers_started) == 1 and workers_started[0][0] == jobs
    assert (report.documents, report.unchanged) == (len(novels), 0)
    assert snapshot(index) == one_process


def test_parallel_small_input_is_analyzed_without_workers(empty_index, workers_started):
    report = empty_index.add([CORPUS], jobs=2)
    assert report.documents == 1 and workers_started == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_parallel_chunks_of_a_long_document_equal_the_whole_document(novels, tmp_path, monkeypatch, jobs):
    # A document of paragraphs, with its title as its first line: cut at
    # blank lines, its chunks must give exactly the passages of the whole.
    body = "\n\n".join(d.text for d in novels[:25])
    long_doc = Document(id="roman.txt", text="Mon Village\n\n" + body, title="Mon Village")
    whole = create_index(tmp_path / "whole")
    whole.add([long_doc], jobs=1)
    monkeypatch.setattr(pipeline, "CHUNK_CHARS", 5_000)
    monkeypatch.setattr(pipeline, "TASK_CHARS", 8_000)
    assert len(pipeline.pieces_of(long_doc, "fr")) > 8
    chunked = create_index(tmp_path / "chunked")
    report = chunked.add([long_doc], jobs=jobs)
    assert (report.documents, report.passages) == (1, whole.info().passages)
    assert snapshot(chunked) == snapshot(whole)


def test_parallel_a_paragraph_longer_than_a_chunk_is_cut_between_whole_passages(novels, empty_index, monkeypatch):
    text = " ".join(d.text.replace("\n", " ") for d in novels[:10])
    monkeypatch.setattr(pipeline, "CHUNK_CHARS", 5_000)
    empty_index.add([Document(id="ligne", text=text)], jobs=2)
    with empty_index._ix.searcher() as searcher:
        passages = sorted(
            (f for f in searcher.all_stored_fields() if "passage" in f), key=lambda f: f["passage"]
        )
        record = searcher.document(kind=KIND_DOC, doc_id="ligne")
    assert [p["passage"] for p in passages] == list(range(len(passages))) == list(range(record["passages"]))
    assert all(text[p["start"] : p["start"] + len(p["text"])] == p["text"] for p in passages)
    assert all(a["start"] + len(a["text"]) <= b["start"] for a, b in itertools.pairwise(passages))
    # A passage in its document's language, in any chunk, stores no language of its own.
    assert record["language"] == "fr" and not any("language" in p for p in passages)
    # The words of the last chunk are found, and marked, like any other.
    tail = len(text) - 2_000
    word = max((w for w in text[tail:].split() if w.isalpha()), key=len)
    hits = empty_index.search(word, limit=100).hits
    assert any(h.start >= tail and word in words(h) for h in hits)


def test_parallel_a_huge_first_line_is_not_stored_as_the_title_of_every_passage(empty_index, tmp_path):
    line = " ".join(["La conférence de Vienne a réuni les ministres."] * 60)
    path = tmp_path / "une-ligne.txt"
    path.write_text(line + "\nSuite du texte.\n", encoding="utf-8")
    empty_index.add([path])
    hit = empty_index.search("ministres").hits[0]
    assert len(hit.title) <= pipeline.MAX_TITLE_CHARS + 1 and hit.title.endswith("…")
    assert line.startswith(hit.title[:-1])
    assert words(hit)[0] == "ministres"


def test_parallel_repeated_ids_across_batches_in_flight_are_replaced_or_skipped(empty_index):
    # Batches of two documents, planned while the one before is still being
    # written: the result must be as if each batch were committed before the
    # next was read.
    docs = [
        doc("a", "La première version du traité."),
        doc("b", "Une autre note sur la conférence."),
        doc("a", "La seconde version du traité de Lisbonne."),
        doc("c", "Une troisième note."),
        doc("a", "La seconde version du traité de Lisbonne."),
        doc("b", "   "),
    ]
    report = empty_index.add(docs, jobs=2, batch_size=2)
    assert (report.documents, report.unchanged, report.empty) == (4, 1, 1)
    info = empty_index.info()
    assert (info.documents, info.passages) == (2, 2)
    assert [h.doc_id for h in empty_index.search("Lisbonne").hits] == ["a"]
    assert empty_index.search("première").total == 0
    assert empty_index.search("conférence").total == 0


def test_parallel_jobs_must_be_positive(empty_index):
    with pytest.raises(Exception, match="jobs must be at least 1, not 0"):
        empty_index.add([doc("a", "Un texte.")], jobs=0)


def test_parallel_pieces_are_cut_at_blank_lines(tmp_path: Path):
    paragraphs = [f"Paragraphe {i}. " + "mot " * 300 for i in range(20)]
    text = "\n\n".join(paragraphs)
    pieces = pipeline.pieces_of(Document(id="d", text=text, title="T"), "fr", chunk_chars=4_000)
    assert "".join(p.document.text for p in pieces) == text
    assert all(p.document.text.startswith("Paragraphe") for p in pieces)
    assert [p.offset for p in pieces] == [text.index(p.document.text) for p in pieces]
    assert [p.document.title for p in pieces] == ["T"] + [""] * (len(pieces) - 1)
    assert [(p.first, p.last) for p in pieces][0] == (True, False) and pieces[-1].last


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_parallel_workers_die_with_a_killed_indexer_and_free_the_lock(novels, tmp_path):
    import fcntl
    import signal
    import subprocess
    import sys
    import time

    corpus = tmp_path / "corpus.jsonl"
    with corpus.open("w", encoding="utf-8") as out:
        for i in range(20):
            for d in novels:
                out.write(json.dumps({"id": f"{i}-{d.id}", "title": d.title, "text": d.text}, ensure_ascii=False) + "\n")
    command = [sys.executable, "-m", "searchlib", "index", str(corpus), "--index", str(tmp_path / "index"), "--jobs", "2", "--quiet"]
    indexer = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(workers := _children(indexer.pid)) < 2:
            assert indexer.poll() is None and time.monotonic() < deadline, "the workers never started"
            time.sleep(0.2)
    finally:
        indexer.send_signal(signal.SIGKILL)
        indexer.wait()
    # The kernel released the lock with the indexer: no worker holds it.
    with open(tmp_path / "index" / "searchlib.lock", "rb") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    deadline = time.monotonic() + 10
    while alive := {pid for pid in workers if Path(f"/proc/{pid}").exists()}:
        assert time.monotonic() < deadline, f"workers {alive} outlived the indexer"
        time.sleep(0.2)
