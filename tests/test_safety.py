"""Never lose the index: incremental updates, pruning, deleting and checking."""

import pytest
from click.testing import CliRunner
from conftest import doc
from whoosh import query as wq

from searchlib import create_index, open_index
from searchlib.cli import main
from searchlib.schema import make_schema


@pytest.fixture()
def run():
    def invoke(*args, **kw):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **kw)

    return invoke


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


def test_safety_a_moved_file_is_re_added_and_pruned_from_its_old_folder(run, tree):
    ix = tree / "ix"
    run("index", tree / "docs", "--index", ix)
    (tree / "moved").mkdir()
    (tree / "docs" / "a.txt").rename(tree / "moved" / "a.txt")
    assert run("index", tree / "moved", "--index", ix).stdout.startswith("Indexed 1 documents (1 passages) in ")
    result = run("index", tree / "docs", "--index", ix, "--prune")
    assert "pruned" not in result.stdout  # a.txt now comes from moved/
    assert ids(ix) == ["a.txt", "j1", "j2", "sub/b.txt"]


def test_safety_delete_command(run, seed_copy):
    result = run("delete", "000_5730bd4df953f932.txt", "nope", "--index", seed_copy.path)
    assert (result.exit_code, result.stdout) == (0, f"Deleted 1 documents (1 not in the index) from {seed_copy.path}\n")
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
    assert result.stdout == f"OK: 1 documents, 24 passages, {terms} terms in 1 segments (commit 1) at {seed_index.path}\n"


def test_safety_check_finds_passages_without_their_document(run, seed_copy):
    # Damage only a library bug could do: the passages go, the record stays.
    writer = seed_copy._ix.writer()
    writer.delete_by_query(wq.Term("kind", "passage"))
    writer.commit()
    result = run("check", "--index", seed_copy.path)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: the index at {seed_copy.path} is damaged: searchlib check found 1 problem(s): document "
        "'000_5730bd4df953f932.txt' should have 24 passage(s), the index holds 0; rebuild it: move it aside, "
        f"then run searchlib index [PATH...] --index {seed_copy.path}\n"
    )
