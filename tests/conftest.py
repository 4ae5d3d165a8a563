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
