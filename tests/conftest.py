"""Shared fixtures: real spaCy, real on-disk indexes, real text."""

from __future__ import annotations

from pathlib import Path

import pytest

from searchlib import Document, Index, create_index

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SEED_ID = "000_5730bd4df953f932.txt"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def seed_text() -> str:
    return (CORPUS / SEED_ID).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """The bundled article, indexed once per session. Tests must not write to it."""
    index = create_index(tmp_path_factory.mktemp("seed") / "index")
    index.add([CORPUS])
    return index


@pytest.fixture()
def empty_index(tmp_path: Path) -> Index:
    return create_index(tmp_path / "index")


@pytest.fixture()
def seed_copy(tmp_path: Path) -> Index:
    """A private index of the bundled article, for tests that write."""
    index = create_index(tmp_path / "index")
    index.add([CORPUS])
    return index


@pytest.fixture()
def run():
    """Invoke the ``searchlib`` command in this process; exceptions propagate."""
    from click.testing import CliRunner

    from searchlib.cli import main

    def invoke(*args, **kw):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **kw)

    return invoke


@pytest.fixture()
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder, with no index named by the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEARCHLIB_INDEX", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


def words(hit) -> list[str]:
    """The marked words of a hit, as written."""
    return [hit.text[s:e] for s, e in hit.matches]


def doc(id: str, text: str, **kw) -> Document:
    return Document(id=id, text=text, **kw)


def shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared data sets live beside the project, in ../shared/data/")
    return path



@pytest.fixture(scope="session")
def analyzer():
    from searchlib.analysis import Analyzer
    from searchlib.languages import get_language

    return Analyzer(get_language("fr"))


@pytest.fixture(scope="session")
def seed_analyzed(analyzer, seed_text):
    from searchlib.sources import first_line_title

    [analyzed] = analyzer.analyze([Document(id=SEED_ID, text=seed_text, title=first_line_title(seed_text))])
    return analyzed


def write_notes(folder: Path, count: int) -> list[str]:
    """``count`` small French notes in ``folder``; returns their ids, in the order a walk reads them."""
    topics = ["la traite", "les victimes", "la justice", "le travail forcé", "les frontières", "l’exploitation"]
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        name = f"note{i:04d}.txt"
        text = f"Note {i}\n\nLa note {i} parle de {topics[i % len(topics)]} et de {topics[(i * 7) % len(topics)]}.\n"
        (folder / name).write_text(text, encoding="utf-8")
        names.append(name)
    return names


@pytest.fixture(scope="session")
def fork_cli():
    """Start ``searchlib ARGS...`` in a child process forked from this one, with spaCy already loaded.

    The child is a real process running the real command, which can be
    killed or paused; forking saves it the seconds spaCy takes to load.
    """
    import multiprocessing

    from searchlib.analysis import analyzer_for
    from searchlib.languages import get_language

    analyzer_for(get_language("fr"))
    context = multiprocessing.get_context("fork")
    started = []

    def start(*args) -> "multiprocessing.Process":
        # Not a daemon: the command may start worker processes of its own.
        process = context.Process(target=_run_cli, args=([str(a) for a in args],))
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.is_alive():
            process.kill()
        process.join()


def _run_cli(args: list[str]) -> None:
    from searchlib.cli import main

    main(args, prog_name="searchlib")


def indexed_ids(index) -> list[str]:
    """The ids of the documents whose notes are searchable, sorted."""
    hits = index.search("note", per_doc=True, limit=100_000).hits
    return sorted(hit.doc_id for hit in hits)


# -- real corpora, for the invariant tests (test_invariants.py) -------------------


def read_jsonl(path: Path) -> list[dict]:
    import json

    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def piaf_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """Every PIAF paragraph (1,518) and the bundled article, indexed once per session. Read only."""
    corpus = shared("piaf/corpus.jsonl")
    index = create_index(tmp_path_factory.mktemp("piaf") / "index")
    index.add([corpus, CORPUS])
    return index


@pytest.fixture(scope="session")
def ntrex_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """NTREX-128 (861 news articles, 7 languages, each in the language its ``lang`` field gives), once per session. Read only."""
    corpus = shared("ntrex128/corpus.jsonl")
    index = create_index(tmp_path_factory.mktemp("ntrex") / "index")
    index.add([corpus])
    return index


@pytest.fixture(scope="session")
def piaf_de_index(piaf_index: Index, tmp_path_factory: pytest.TempPathFactory) -> Index:
    """A copy of ``piaf_index`` with one German NTREX article added: a French index that holds a second language."""
    import shutil

    from searchlib import open_index

    german = next(d for d in read_jsonl(shared("ntrex128/corpus.jsonl")) if d["lang"] == "de")
    path = tmp_path_factory.mktemp("piaf-de") / "index"
    shutil.copytree(piaf_index.path, path, ignore=shutil.ignore_patterns("searchlib.lock"))
    index = open_index(path)
    index.add([Document(id=german["id"], title=german["title"], text=german["text"], lang="de")])
    return index


def start_server(index_path, *, write_token=None):
    """Run ``searchlib serve``'s application in a real uvicorn server on a free loopback port.

    The server runs in a thread of this process, so tests can watch its log.
    Returns its URL and a function that stops it.
    """
    import threading
    import time

    import uvicorn

    from searchlib.server import create_app

    app = create_app(index_path=index_path, write_token=write_token)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)

    return f"http://127.0.0.1:{port}", stop


@pytest.fixture()
def http_server():
    """``start_server``, stopped when the test ends; returns the server's URL."""
    stops = []

    def start(index_path, *, write_token=None) -> str:
        url, stop = start_server(index_path, write_token=write_token)
        stops.append(stop)
        return url

    yield start
    for stop in stops:
        stop()


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
