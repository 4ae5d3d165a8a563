"""Indexing on a Dask cluster: a real LocalCluster of 2 worker processes, real spaCy, real indexes.

The index a cluster builds must answer as the one a single process builds
from the same documents and batches: same hits, scores, totals and marks.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CORPUS, read_jsonl, shared
from whoosh import index as windex
from whoosh.filedb.filestore import FileStorage

from searchlib import Document, create_index, open_index
from searchlib.errors import SearchlibError

distributed = pytest.importorskip("distributed", reason="the cluster tests need searchlib[cluster]")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scheduler():
    """A LocalCluster of 2 worker processes, one thread each: its scheduler's address."""
    import logging

    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=logging.ERROR)
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(scope="module")
def piaf_docs() -> list[Document]:
    """600 PIAF paragraphs, with their titles."""
    records = read_jsonl(shared("piaf/corpus.jsonl"))[:600]
    return [Document(id=r["id"], text=r["text"], title=r.get("title") or "") for r in records]


def answers(index, queries, **kw):
    """Everything a search shows: hits with scores, passages, marks and entities, and the total."""
    out = []
    for query in queries:
        for per_doc in (False, True):
            result = index.search(query, limit=10, per_doc=per_doc, **kw)
            out.append((query, per_doc, result.total, [(h.doc_id, h.passage, h.score, h.start, h.end, h.matches,
                                                         h.highlight, h.entities) for h in result.hits]))
    return out


def records(index):
    """Every document (id, passages, words), and every stored passage (number, start, text), sorted."""
    reader = windex.open_dir(str(index.path)).reader()
    passages = sorted((stored["passage"], stored["start"], stored["text"]) for _, stored in reader.iter_docs()
                      if "passage" in stored)
    return [(d.id, d.passages, d.words) for d in index.documents()], passages


def test_cluster_index_of_the_article_answers_as_one_process(tmp_path, scheduler):
    cluster = create_index(tmp_path / "cluster")
    report = cluster.add([CORPUS], cluster=scheduler)
    alone = create_index(tmp_path / "alone")
    alone.add([CORPUS], jobs=1)
    assert report.documents == 1 and report.passages == alone.info().passages > 0
    queries = ["victimes de la traite", "OSCE", "Convention de Palerme", "exploités", '"traite des êtres humains"']
    assert answers(cluster, queries) == answers(alone, queries)
    assert all(total > 0 for _, _, total, _ in answers(cluster, queries))
    assert cluster.check().documents == 1


def test_cluster_index_of_a_real_corpus_answers_as_one_process(tmp_path, scheduler, piaf_docs):
    """600 PIAF paragraphs in batches of 20: 30 commits, segments merged along the way."""
    cluster = create_index(tmp_path / "cluster")
    cluster.add(piaf_docs, cluster=scheduler, batch_size=20)
    alone = create_index(tmp_path / "alone")
    alone.add(piaf_docs, jobs=2, batch_size=20)
    assert cluster.check() == alone.check()
    assert cluster.check().segments < 30, "no segment was merged"
    rnd = random.Random(15)
    questions = [q["text"] for q in read_jsonl(shared("piaf/queries.jsonl"))]
    queries = rnd.sample(questions, 120)
    assert answers(cluster, queries) == answers(alone, queries)
    assert answers(cluster, queries[:20], entity_type="PER") == answers(alone, queries[:20], entity_type="PER")
    assert records(cluster) == records(alone)

    # Changed documents replace theirs, unchanged ones are skipped, as without a cluster.
    changed = [Document(id=d.id, text=d.text + " Une phrase ajoutée.", title=d.title) for d in piaf_docs[:30]]
    again = cluster.add(changed + piaf_docs[30:40], cluster=scheduler, batch_size=7)
    assert (again.documents, again.unchanged) == (30, 10)
    alone.add(changed + piaf_docs[30:40], jobs=2, batch_size=7)
    assert records(cluster) == records(alone)
    assert answers(cluster, queries[:40] + ["phrase ajoutée"]) == answers(alone, queries[:40] + ["phrase ajoutée"])


def test_cluster_a_killed_worker_loses_and_doubles_nothing(tmp_path, scheduler, piaf_docs):
    client = distributed.Client(scheduler)
    try:
        workers = client.run(os.getpid)
        victim = random.Random(3).choice(sorted(workers.values()))
        killed = []

        def progress(p):
            # After the first commit, while the next batches are being analyzed.
            if p.documents >= 20 and not killed:
                os.kill(victim, signal.SIGKILL)
                killed.append(time.monotonic())

        cluster = create_index(tmp_path / "cluster")
        report = cluster.add(piaf_docs[:300], cluster=scheduler, batch_size=20, on_progress=progress)
        assert killed, "the worker was not killed during the run"
        assert victim not in client.run(os.getpid).values()
    finally:
        client.close()
    alone = create_index(tmp_path / "alone")
    alone.add(piaf_docs[:300], jobs=2, batch_size=20)
    assert report.documents == 300
    docs, passages = records(cluster)
    assert len({doc_id for doc_id, _, _ in docs}) == len(docs) == 300
    assert len(set(passages)) == len(passages) == sum(count for _, count, _ in docs)
    assert (docs, passages) == records(alone)
    queries = ["Quand est né Victor Hugo ?", "communauté juive", "Empire ottoman"]
    assert answers(cluster, queries) == answers(alone, queries)


def test_cluster_a_killed_coordinator_leaves_its_last_commit_and_a_rerun_completes(tmp_path, scheduler, piaf_docs):
    corpus = tmp_path / "piaf.jsonl"
    import json

    with corpus.open("w", encoding="utf-8") as out:
        for doc in piaf_docs[:300]:
            out.write(json.dumps({"id": doc.id, "text": doc.text, "title": doc.title}, ensure_ascii=False) + "\n")
    path = tmp_path / "index"
    command = [sys.executable, "-m", "searchlib", "index", str(corpus), "--index", str(path), "--cluster", scheduler,
               "--batch-size", "10", "--wait", "0", "--quiet"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    generation = 0
    while time.monotonic() < deadline and child.poll() is None:
        try:
            generation = windex.TOC.read(FileStorage(str(path)), "MAIN").generation
        except Exception:  # not created yet, or a table of contents being replaced
            pass
        if generation >= 3:
            break
        time.sleep(0.05)
    assert child.poll() is None, f"the run ended before it could be killed: {child.communicate()}"
    child.kill()
    child.wait()

    index = open_index(path)
    check = index.check()
    assert 0 < check.documents < 300
    docs, passages = records(index)
    assert len(passages) == sum(count for _, count, _ in docs), "a document's passages are all there, or none"

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    alone = create_index(tmp_path / "alone")
    alone.add(piaf_docs[:300], jobs=2, batch_size=10)
    index = open_index(path)
    assert index.check().documents == 300
    assert records(index) == records(alone)
    queries = ["Quand est né Victor Hugo ?", "Empire ottoman"]
    # Not the scores: the rerun's batches are not the single run's, so segments merged differently.
    assert [[h[:2] for h in hits] for *_, hits in answers(index, queries)] == \
           [[h[:2] for h in hits] for *_, hits in answers(alone, queries)]


def test_cluster_unreachable_scheduler_is_one_line_and_leaves_the_index(tmp_path, seed_copy):
    before = seed_copy.check()
    files = sorted(p.name for p in seed_copy.path.iterdir())
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "searchlib", "index", str(CORPUS), "--index", str(seed_copy.path),
                             "--cluster", "tcp://127.0.0.1:9"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 60
    assert open_index(seed_copy.path).check() == before
    assert sorted(p.name for p in seed_copy.path.iterdir()) == files


def test_cluster_bad_options_are_refused_before_anything_starts(tmp_path, run, monkeypatch):
    index = create_index(tmp_path / "index")
    with pytest.raises(SearchlibError, match="give jobs or cluster, not both"):
        index.add([CORPUS], jobs=2, cluster="local:2")
    with pytest.raises(SearchlibError, match="local:N needs a number of workers of 1 or more, not '0'"):
        index.add([CORPUS], cluster="local:0")
    result = run("index", CORPUS, "--index", tmp_path / "index", "--cluster", "local:two")
    assert result.exit_code == 1 and "not 'two'" in result.output
    # Without Dask installed: what to install, not an ImportError.
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(SearchlibError, match=r"needs Dask: pip install 'searchlib\[cluster\]'"):
        index.add([CORPUS], cluster="local:2")
    assert index.info().documents == 0


def test_cluster_importing_searchlib_does_not_import_dask():
    """Dask takes a quarter of a second to import: a search must not pay it."""
    code = "import sys, searchlib, searchlib.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in ('distributed', 'dask')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
