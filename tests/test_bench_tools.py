"""bench/size.py accounts for every byte of a real index, by field, across segments and deletions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from searchlib import Document, create_index

from conftest import ROOT, read_jsonl, shared

SIZE = ROOT / "bench" / "size.py"


@pytest.fixture(scope="module")
def segmented_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """30 PIAF paragraphs added in batches of 10 (several segments), 3 of them deleted."""
    records = read_jsonl(shared("piaf/corpus.jsonl"))[:30]
    path = tmp_path_factory.mktemp("size") / "index"
    index = create_index(path)
    index.add([Document(id=r["id"], title=r["title"], text=r["text"]) for r in records], batch_size=10)
    deleted = [r["id"] for r in records[::10]]
    assert index.delete(deleted) == len(deleted)
    index.close()
    return path, [r for r in records if r["id"] not in deleted]


def run_size(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SIZE), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_size_bytes_add_up_to_the_folder(segmented_index, tmp_path: Path) -> None:
    from whoosh import index as windex

    path, live = segmented_index
    out = tmp_path / "size.json"
    done = run_size(path, "--json", out)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    folder = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    assert report["folder_bytes"] == folder
    assert report["segments"] >= 2 and report["deleted"] >= 3
    fields = report["fields"]
    field_bytes = sum(f["total"] for f in fields.values())
    unattributed = sum(report["unattributed"].values())
    # Each byte is charged once: to a field, to a named part, or left unattributed.
    assert field_bytes + sum(report["parts"].values()) + unattributed == folder
    assert unattributed <= 0.02 * folder
    # The fields, not the bookkeeping, hold the index.
    assert field_bytes >= 0.9 * folder
    ix = windex.open_dir(str(path))
    with ix.reader() as reader:
        indexed = set(reader.indexed_field_names())
        # A term is an entry in each segment's table that has it.
        entries = sum(1 for leaf, _ in reader.leaf_readers() for _ in leaf.all_terms())
    ix.close()
    assert indexed <= fields.keys()
    assert sum(f["terms"] for f in fields.values()) == entries
    # The passage texts of the live documents, as stored.
    assert 0 < report["text_bytes"] <= sum(len(r["text"].encode("utf-8")) for r in live)
    assert fields["text"]["stored"] > 0
    assert "| field | term entries | term table |" in done.stdout


def test_size_sampled_split_keeps_exact_totals(segmented_index, tmp_path: Path) -> None:
    path, _ = segmented_index
    whole, sampled = tmp_path / "whole.json", tmp_path / "sampled.json"
    assert run_size(path, "--json", whole, "--sample", "0").returncode == 0
    assert run_size(path, "--json", sampled, "--sample", "3").returncode == 0
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (whole, sampled))
    assert b["stored_sampled"] and not a["stored_sampled"]
    stored = [sum(f["stored"] for f in r["fields"].values()) for r in (a, b)]
    assert stored[0] == stored[1] > 0
    assert a["accounted"] == b["accounted"]


def test_size_not_an_index(tmp_path: Path) -> None:
    done = run_size(tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path} holds no index: give the folder of a searchlib index"]


# -- bench.py's peers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def bench():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_script", ROOT / "bench" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_split_passages_follows_searchlib_rule(bench) -> None:
    text = ("Première phrase. Deuxième phrase ! Troisième ? Quatrième phrase.\n\n"
            "Un autre paragraphe. " + "Mot " * 200 + "fin.")
    passages = [text[s:e] for s, e in bench.split_passages(text)]
    assert passages[0] == "Première phrase. Deuxième phrase ! Troisième ?"
    assert passages[1] == "Quatrième phrase."
    # A passage never crosses a blank line, and a long sentence is never cut.
    assert passages[2] == "Un autre paragraphe."
    assert passages[3].startswith("Mot Mot") and passages[3].endswith("fin.") and len(passages[3]) > 500
    assert len(passages) == 4


def test_bench_peers_answer_every_query_kind(bench, tmp_path: Path) -> None:
    pytest.importorskip("tantivy")
    units = tmp_path / "units.jsonl"
    units.write_text("\n".join(json.dumps(u, ensure_ascii=False) for u in [
        {"id": "a#0", "doc_id": "a", "title": "Palerme", "text": "La Convention de Palerme protège les victimes exploitées."},
        {"id": "b#0", "doc_id": "b", "title": "Maison", "text": "Les élèves rentrent à la maison : c'est l'été ?"},
    ]) + "\n", encoding="utf-8")
    sets = {"piaf": ["Qu'est-ce que la Convention de Palerme ?"], "term": ["victimes"], "phrase": ['"Convention de Palerme"'],
            "fuzzy": ["maisom~"], "prefix": ["explo*"], "entity": [["victimes", "Palerme"]]}
    for peer in bench.PEERS:
        folder = tmp_path / peer
        folder.mkdir()
        assert {"whoosh": bench.whoosh_index, "tantivy": bench.tantivy_index}[peer](str(units), str(folder))["units"] == 2
        notes = {kind: {} for kind in bench.QUERY_KINDS}
        search = {"whoosh": bench.whoosh_searcher, "tantivy": bench.tantivy_searcher}[peer](str(folder), sets, notes)
        for kind, queries in sets.items():
            total, shown, marked = search(kind, queries[0])
            assert total == shown >= 1, (peer, kind)
            assert marked <= shown
        if peer == "tantivy":
            # Pasted as it is, the question is a syntax error; escaped, it is searched.
            assert notes["piaf"] == {"rejected_as_pasted": {json.dumps(sets["piaf"][0], ensure_ascii=False)}}
        else:
            assert not any(notes.values())
