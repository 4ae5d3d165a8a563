"""One :class:`Index` used by several threads at once, as a web application's worker threads use it."""

import queue
import sys
import threading
import traceback

import pytest
from conftest import indexed_ids, write_notes

from searchlib import Document, SearchlibError, create_index, open_index

QUERIES = [
    ("victimes de la traite", {}),
    ("exploiter", {}),
    ('"Convention de Palerme"', {}),
    ("prostitusion~", {}),
    ("prostit*", {}),
    ("traite NOT humains", {}),
    ("victimmes", {}),  # unknown to the index: lemmatized from the model's tables, and a suggestion
    ("coopérations judiciaires renforcées", {}),
    ("lutte", {"entity_type": "ORG"}),
    ("victimes", {"entity": "OSCE"}),
    ("victimes", {"per_doc": True}),
    ("Quelle est la position de la France sur la prostitution ?", {"plain": True}),
]


@pytest.fixture(autouse=True)
def frequent_switches():
    """Switch threads every few microseconds, not every 5 ms: races that are rare become likely."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)


def run_threads(count, target):
    """Run ``target(n)`` in ``count`` threads at once; return what each raised, as text."""
    errors: queue.Queue = queue.Queue()
    start = threading.Barrier(count)

    def body(n):
        start.wait()
        try:
            target(n)
        except BaseException:
            errors.put(traceback.format_exc())

    threads = [threading.Thread(target=body, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return list(errors.queue)


@pytest.mark.parametrize("cache_bytes", [None, 0], ids=["engine-cache", "engine-cache-evicting"])
def test_threads_searching_at_once_get_what_one_thread_gets(seed_index, monkeypatch, cache_bytes):
    if cache_bytes is not None:
        # The engine's cache, shared by the threads, drops an entry for every one it keeps.
        monkeypatch.setattr(seed_index._engine, "_cache_bytes", cache_bytes)
    expected = {(q, tuple(sorted(kw.items()))): seed_index.search(q, **kw).to_dict() for q, kw in QUERIES}
    wrong: list[str] = []

    def search(n):
        for round_ in range(3):
            for q, kw in QUERIES[n % 3 :] + QUERIES[: n % 3]:
                if seed_index.search(q, **kw).to_dict() != expected[(q, tuple(sorted(kw.items())))]:
                    wrong.append(f"thread {n}, round {round_}: {q!r} {kw}")

    assert run_threads(6, search) == []
    assert wrong == []


def test_threads_readers_are_reused_and_renewed_after_a_commit(empty_index, monkeypatch):
    index = empty_index
    index.add([Document(id="a", text="Une note sur la traite.")])
    opened = []
    original = index._ix.reader

    def counting_reader(*args, **kwargs):
        opened.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(index._ix, "reader", counting_reader)
    for _ in range(5):
        assert [h.doc_id for h in index.search("traite").hits] == ["a"]
    assert len(opened) == 1
    other = open_index(index.path)  # a commit through another Index, as another process would make it
    other.add([Document(id="b", text="Une autre note sur la traite.")])
    for _ in range(5):
        assert sorted(h.doc_id for h in index.search("traite").hits) == ["a", "b"]
    assert len(opened) == 2


def test_threads_a_closed_index_finishes_running_searches_then_refuses(seed_copy):
    index = seed_copy
    inside, release = threading.Event(), threading.Event()
    results = []

    def slow_search():
        with index._reading() as searcher:
            inside.set()
            release.wait(30)
            results.append(searcher.doc_count())

    thread = threading.Thread(target=slow_search)
    thread.start()
    inside.wait(30)
    index.close()
    release.set()
    thread.join()
    assert results == [25]  # 24 passages and the document's record, read after close()
    with pytest.raises(SearchlibError, match=r"^this index was closed; open it again with open_index\(\)$"):
        index.search("traite")


@pytest.mark.slow
def test_threads_search_while_another_process_commits(tmp_path, fork_cli):
    """Threads that share one Index see each commit whole, never an error, and the last one in the end."""
    names = write_notes(tmp_path / "notes", 120)
    path = tmp_path / "ix"
    index = create_index(path)
    writer = fork_cli("index", tmp_path / "notes", "--index", path, "--batch-size", 2, "--quiet")
    seen: list[set[int]] = [set() for _ in range(4)]
    problems: list[str] = []

    def watch(n):
        while writer.is_alive():
            found = indexed_ids(index)
            # Each commit adds one batch of two notes, each of two passages.
            if found != names[: len(found)] or len(found) % 2:
                problems.append(f"thread {n}: a partial state of {len(found)} documents")
            info = index.info()
            if info.passages != 2 * info.documents:
                problems.append(f"thread {n}: {info.documents} documents with {info.passages} passages")
            seen[n].add(len(found))

    assert run_threads(4, watch) == []
    writer.join()
    assert writer.exitcode == 0
    assert problems == []
    # Every thread ran during the writing, and saw it progress.
    assert all(len({count for count in states if 0 < count < len(names)}) >= 2 for states in seen), seen
    assert indexed_ids(index) == names
