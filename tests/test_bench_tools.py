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
