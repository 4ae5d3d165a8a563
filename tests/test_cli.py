"""The command line: exact JSON keys, exit codes and error lines (CliRunner, real index)."""

import json

import pytest
from click.testing import CliRunner

from searchlib import __version__
from searchlib import cli as cli_module
from searchlib.cli import main

HIT_KEYS = ["rank", "score", "doc_id", "passage", "title", "lang", "text", "start", "end", "matches", "highlight", "entities"]


@pytest.fixture()
def run():
    runner = CliRunner()

    def invoke(*args, **kw):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False, **kw)

    return invoke


def test_cli_search_json_is_exactly_one_object_with_the_contract_keys(run, seed_index):
    result = run("search", "exploiter", "--index", seed_index.path, "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert list(data) == ["query", "total", "suggestion", "hits"]
    # The lemma finds "exploités"; the stem also finds "exploitation", ranked below.
    assert (data["query"], data["total"], data["suggestion"]) == ("exploiter", 3, None)
    hit = data["hits"][0]
    assert list(hit) == HIT_KEYS
    assert all(list(h) == HIT_KEYS for h in data["hits"])
    assert all(list(e) == ["text", "label"] for e in hit["entities"])
    [[start, end]] = hit["matches"]
    assert hit["text"][start:end] == "exploités"
    assert "<mark>exploités</mark>" in hit["highlight"]
    assert isinstance(hit["score"], float) and hit["rank"] == 1


def test_cli_search_json_with_no_hits_and_a_suggestion(run, seed_index):
    result = run("search", "victimmes", "--index", seed_index.path, "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"query": "victimmes", "total": 0, "suggestion": "victimes", "hits": []}


def test_cli_search_text_marks_words_plainly_when_piped(run, seed_index):
    result = run("search", "l’impunité", "--index", seed_index.path, "-n", "1")
    assert result.exit_code == 0
    assert "« Mettre fin à l’**impunité** : rendre la Justice" in result.stdout
    assert "\x1b[" not in result.stdout
    assert result.stdout.rstrip().endswith("1 of 3 matching passages shown.")


def test_cli_search_colours_on_a_terminal_unless_no_color(monkeypatch):
    class Terminal:
        def isatty(self):
            return True

    monkeypatch.setattr(cli_module.sys, "stdout", Terminal())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli_module._use_color() is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli_module._use_color() is False
    # The convention (no-color.org): only a value that is not empty turns colour off.
    monkeypatch.setenv("NO_COLOR", "")
    assert cli_module._use_color() is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", '"Convention de', "--index", "{index}"],
         'Error: unbalanced quote: a phrase opened with " is never closed; add the closing "\n'),
        (["search", "traite", "--entity-type", "PERSON", "--index", "{index}"],
         "Error: unknown entity type 'PERSON'; use one of: PER, ORG, LOC, MISC\n"),
        (["search", "traite", "--lang", "zz", "--index", "{index}"],
         "Error: unknown language 'zz'; supported languages: fr (French), en (English), de (German), es (Spanish), it (Italian), pt (Portuguese), nl (Dutch), and any other language spaCy can tokenize, by its ISO 639-1 code (indexed without lemmas)\n"),
        (["search", "traite", "--index", "{missing}"],
         "Error: no index at {missing}; build one with: searchlib index [PATH...] --index {missing}\n"),
        (["info", "--index", "{missing}"],
         "Error: no index at {missing}; build one with: searchlib index [PATH...] --index {missing}\n"),
        (["index", "{missing}/nothing.txt", "--index", "{fresh}"],
         "Error: {missing}/nothing.txt: no such file or directory\n"),
        (["index", "{loop}", "--index", "{fresh}"],
         "Error: {loop}: a symbolic link loop (it leads back to itself); point to a file or folder\n"),
    ],
)
def test_cli_user_errors_are_one_line_and_exit_1(run, seed_index, tmp_path, args, message):
    values = {"index": seed_index.path, "missing": tmp_path / "missing", "fresh": tmp_path / "fresh", "loop": tmp_path / "loop"}
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    result = run(*[a.format(**values) for a in args])
    assert result.exit_code == 1
    assert result.stderr == message.format(**values)
    assert result.stdout == ""


@pytest.mark.parametrize("args", [["search"], ["search", "x", "--limit", "0"], ["nope"], ["search", "x", "--format", "xml"]])
def test_cli_usage_errors_exit_2(run, args):
    assert run(*args).exit_code == 2


def test_cli_first_search_builds_the_default_index_and_says_so(run, cwd):
    first = run("search", "exploiter")
    assert first.exit_code == 0
    assert first.stderr.startswith("No index at ./index: building it from the bundled corpus (")
    assert "Indexed 1 document (24 passages)" in first.stderr
    assert "**exploités**" in first.stdout
    assert (cwd / "index" / "searchlib.json").is_file()
    second = run("search", "exploiter")
    assert (second.exit_code, second.stderr) == (0, "")
    assert second.stdout == first.stdout


def test_cli_first_search_in_a_checkout_style_index_folder(run, cwd):
    (cwd / "index").mkdir()
    (cwd / "index" / ".gitignore").write_text("*\n!.gitignore\n")
    result = run("search", "victimes")
    assert result.exit_code == 0
    assert "**victimes**" in result.stdout


def test_cli_environment_names_the_index(run, cwd, monkeypatch, seed_index):
    monkeypatch.setenv("SEARCHLIB_INDEX", str(seed_index.path))
    result = run("search", "osce", "--format", "json")
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout)["total"] == 4


def test_cli_index_defaults_to_the_bundled_corpus_and_summarizes(run, tmp_path):
    result = run("index", "--index", tmp_path / "ix")
    assert result.exit_code == 0
    assert result.stdout.startswith("Indexed 1 document (24 passages) in ")
    again = run("index", "--index", tmp_path / "ix")
    assert again.stdout.startswith("Indexed 0 documents (0 passages), 1 unchanged in ")
    quiet = run("index", "--index", tmp_path / "ix", "--quiet")
    assert quiet.stdout == ""


def test_cli_index_reads_standard_input(run, tmp_path):
    result = run("index", "-", "--index", tmp_path / "ix", input='{"id": "n", "text": "La traite des êtres humains."}\n')
    assert result.exit_code == 0
    found = run("search", "humain", "--index", tmp_path / "ix", "--format", "json")
    assert json.loads(found.stdout)["hits"][0]["doc_id"] == "n"


def test_cli_index_warns_about_binary_files_and_goes_on(run, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("La traite.", encoding="utf-8")
    (folder / "b.bin").write_bytes(b"\x00\x01\x02")
    result = run("index", folder, "--index", tmp_path / "ix")
    assert result.exit_code == 0
    assert result.stderr == f"Warning: {folder / 'b.bin'}: skipped, binary file (it contains NUL bytes)\n"
    assert result.stdout.startswith("Indexed 1 document (1 passage)")


def test_cli_entities_json(run, seed_index):
    result = run("entities", "--index", seed_index.path, "--type", "ORG", "--format", "json", "-n", "2")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert list(data) == ["entities"]
    assert data["entities"][0] == {"text": "OSCE", "label": "ORG", "passages": 4}
    assert len(data["entities"]) == 2


def test_cli_entities_text(run, seed_index):
    result = run("entities", "--index", seed_index.path, "-n", "1")
    assert result.stdout == "     4  ORG   OSCE\n"


def test_cli_info_json(run, seed_index):
    result = run("info", "--index", seed_index.path, "--format", "json")
    data = json.loads(result.stdout)
    assert list(data) == ["path", "documents", "passages", "languages", "size_bytes", "schema_version", "searchlib_version"]
    assert (data["documents"], data["passages"], data["languages"]) == (1, 24, {"fr": 24})


def test_cli_version(run):
    result = run("--version")
    assert result.stdout == f"searchlib, version {__version__}\n"


@pytest.mark.parametrize("command", [[], ["index"], ["search"], ["entities"], ["info"]])
def test_cli_every_command_has_help(run, command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")


def test_cli_index_jobs_option(run, tmp_path):
    result = run("index", "--jobs", "1", "--index", tmp_path / "index")
    assert result.exit_code == 0
    assert result.stdout.startswith("Indexed 1 document (24 passages) in ")
    assert run("index", "--jobs", "0", "--index", tmp_path / "index").exit_code == 2


def test_cli_index_shows_progress_on_a_terminal_only(run, tmp_path, monkeypatch):
    piped = run("index", "--index", tmp_path / "piped")
    assert "\r" not in piped.stderr
    monkeypatch.setattr(cli_module, "_is_terminal", lambda stream: True)
    shown = run("index", "--index", tmp_path / "terminal")
    assert "\r[####################] 1/1 document · 24 passages" in shown.stderr
    assert shown.stderr.endswith("\r")  # the line is cleared before the summary
    assert shown.stdout.startswith("Indexed 1 document (24 passages) in ")
    quiet = run("index", "--quiet", "--index", tmp_path / "quiet")
    assert (quiet.stdout, quiet.stderr) == ("", "")


def test_cli_progress_of_one_long_document_advances_with_its_chunks_and_shows_the_time_left(run, tmp_path, monkeypatch):
    from searchlib import pipeline

    # Small chunks and tasks stand for a long document: one result per chunk, each drawn.
    monkeypatch.setattr(pipeline, "CHUNK_CHARS", 2_000)
    monkeypatch.setattr(pipeline, "TASK_CHARS", 2_000)
    monkeypatch.setattr(cli_module.ProgressLine, "MIN_SPAN", 1e-6)
    monkeypatch.setattr(cli_module.ProgressLine, "REDRAW", 0.0)
    monkeypatch.setattr(cli_module, "_is_terminal", lambda stream: True)
    path = tmp_path / "une-ligne.txt"
    path.write_text(" ".join(["Les victimes de la traite ont témoigné à Vienne."] * 200), encoding="utf-8")
    result = run("index", path, "--index", tmp_path / "ix", "--jobs", 1)
    assert result.stdout.startswith("Indexed 1 document (")
    drawn = [line.strip() for line in result.stderr.split("\r") if "/1 document" in line]
    during = [line for line in drawn if "0/1 document" in line]
    assert len(during) >= 4
    assert all(" left" in line for line in during[1:]), during
    filled = [line[1:21].count("#") for line in during]
    assert filled == sorted(filled) and 0 < filled[-1] < 20, during
    # Analysis done, the commit: no time left is claimed for it.
    [writing] = [line for line in drawn if "writing" in line]
    assert writing.startswith("[####################] 1/1 document · ") and writing.endswith(" · writing the index…")


def test_cli_progress_time_left_goes_by_characters():
    from searchlib import Progress

    class Screen:
        text = ""

        def write(self, text):
            self.text += text

        def flush(self):
            pass

    screen = Screen()
    line = cli_module.ProgressLine(screen)
    for seconds, chars in [(10.0, 100_000), (20.0, 250_000)]:
        line.update(Progress(documents=0, passages=10, words=chars // 6, seconds=seconds, total=1, chars=chars,
                             total_chars=1_000_000))
    # 150,000 characters in 10 s: the 750,000 left take 50 s.
    assert screen.text.split("\r")[-1].strip() == "[#####...............] 0/1 document · 10 passages · 2,500 words/s · 50.0s left"


@pytest.mark.parametrize(
    ("seconds", "model", "expected"),
    [
        (12.0, 2.0, "in 12.0s (1,000 words/s, after 2.0s loading the language model)"),
        (190.0, 0.0, "in 3m10s (53 words/s)"),
        (7300.0, 100.0, "in 2h01m (1 word/s, after 100.0s loading the language model)"),
    ],
)
def test_cli_index_summary_leaves_model_loading_out_of_the_rate(seconds, model, expected):
    from searchlib import AddReport

    report = AddReport(documents=3, passages=9, words=10_000, unchanged=0, empty=0, pruned=0, seconds=seconds,
                       warnings=(), model_seconds=model)

    class Idx:
        path = "idx"

    assert cli_module._summary(report, Idx()) == f"Indexed 3 documents (9 passages) {expected} into idx"


def test_cli_counts_agree_with_their_nouns(run, tmp_path):
    (tmp_path / "note.txt").write_text("La traite des êtres humains.", encoding="utf-8")
    ix = tmp_path / "ix"
    assert run("index", tmp_path / "note.txt", "--index", ix).stdout.startswith("Indexed 1 document (1 passage) in ")
    assert run("search", "traite", "--index", ix).stdout.endswith("\n1 of 1 matching passage shown.\n")
    assert "languages:      fr (1 passage)\n" in run("info", "--index", ix).stdout
    assert run("check", "--index", ix).stdout.startswith("OK: 1 document, 1 passage, ")
    assert " terms in 1 segment (commit 1) at " in run("check", "--index", ix).stdout
    assert run("delete", "note.txt", "--index", ix).stdout == f"Deleted 1 document from {ix}\n"
    assert run("delete", "note.txt", "autre", "--index", ix).stdout == f"Deleted 0 documents (2 not in the index) from {ix}\n"


def test_cli_optimize_merges_segments_into_one_and_keeps_every_search(run, tmp_path):
    from conftest import write_notes

    from searchlib import open_index

    notes = tmp_path / "notes"
    write_notes(notes, 12)
    index_dir = tmp_path / "index"
    assert run("index", notes, "--index", index_dir, "--batch-size", "3", "-q").exit_code == 0
    before = open_index(index_dir).search("victimes", limit=100)
    result = run("optimize", "--index", index_dir)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Merged 4 segments into one")
    index = open_index(index_dir)
    assert len(index._ix.reader().leaf_readers()) == 1
    after = index.search("victimes", limit=100)
    assert [(h.doc_id, h.passage, h.matches) for h in after.hits] == [(h.doc_id, h.passage, h.matches) for h in before.hits]
    assert after.total == before.total > 0
    assert run("optimize", "--index", index_dir).output.startswith(f"{index_dir} is one segment already")
