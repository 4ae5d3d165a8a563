"""Hostile and broken input, through the command: a one-line ``Error:`` or a warning, never a traceback.

Files, JSONL, queries, damaged indexes and paths. Every damaged index is
checked to be byte for byte what it was after each command tried it:
opening, searching, checking and indexing never destroy data.
"""

import contextlib
import hashlib
import json
import multiprocessing
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import index as windex
from whoosh.filedb.filestore import FileStorage

from searchlib import SearchlibError, create_index, open_index
from searchlib.cli import main
from searchlib.sources import path_id

REMEDY = "rebuild it: move it aside, then run searchlib index [PATH...] --index {ix}"
NOBODY = 65534


def snapshot(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


# -- files --------------------------------------------------------------------


def test_hostile_files_in_a_folder_are_skipped_with_warnings_or_decoded(run, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("La traite des êtres humains.", encoding="utf-8")
    (docs / "b.bin").write_bytes(b"GIF89a\x00\x01\x02\x03")
    (docs / "c.txt").write_bytes("Lutte contre l’impunité des trafiquants.".encode("cp1252"))
    (docs / "d.txt").write_bytes(b"Caf\xe9 \x81\x8d et th\xe9.")  # 0x81 and 0x8D mean nothing in Windows-1252
    (docs / "e.txt").write_bytes(bytes([0xE9, 0x01, 0x02, 0x03, 0x04, 0x05]) * 50)
    (docs / "f.txt").write_bytes(b"")
    (docs / "g.md").write_text("  \n\t\n   \n", encoding="utf-8")
    result = run("index", docs, "--index", tmp_path / "ix")
    assert result.exit_code == 0
    assert result.stderr == (
        f"Warning: {docs / 'b.bin'}: skipped, binary file (it contains NUL bytes)\n"
        f"Warning: {docs / 'c.txt'}: not UTF-8: decoded as Windows-1252 (Latin-1)\n"
        f"Warning: {docs / 'd.txt'}: skipped, neither UTF-8 nor Windows-1252 text; convert it to UTF-8\n"
        f"Warning: {docs / 'e.txt'}: skipped, binary or unknown encoding; convert it to UTF-8\n"
        "Warning: f.txt: skipped, no text\n"
        "Warning: g.md: skipped, no text\n"
    )
    assert result.stdout.startswith("Indexed 2 documents (2 passages), 2 empty in ")
    found = json.loads(run("search", "impunité", "--index", tmp_path / "ix", "--format", "json").stdout)
    assert [(h["doc_id"], h["text"]) for h in found["hits"]] == [("c.txt", "Lutte contre l’impunité des trafiquants.")]


# Pieces of file names: what a name may hold besides letters. Names are bytes:
# any byte but "/" and NUL.
NAME_PARTS = [b"a", b"Note", b" ", b"  ", b"\n", b"\r", b"\t", b"-", b"--", b"\\", b"\\x41", b"\\\\", b"\xe9", b"\xff",
              b"\xc3", b"\xc3\xa9", "’".encode(), "é".encode(), "日本".encode(), b"%", b"*", b"?", b"'", b'"', b"$",
              b"~", b".", b".txt", b".md", b"\x7f", b"\x1b[31m", b"\xed\xa0\x80", "\u2028".encode()]
LONG_NAMES = [b"n" * 255, "é".encode() * 127, b"\xe9" * 255, b"-" + b"x" * 254, b"\n" * 255]
FILE_NAMES = (
    st.lists(st.sampled_from(NAME_PARTS), min_size=1, max_size=10).map(b"".join)
    | st.binary(min_size=1, max_size=30)
    | st.sampled_from(LONG_NAMES)
).map(lambda name: name.replace(b"/", b"_").replace(b"\0", b"_")[:255]).filter(
    # A JSONL file is read line by line, as JSONL: its name is not what is tested here.
    lambda name: name not in (b".", b"..", b"valide.txt") and not name.lower().endswith((b".jsonl", b".ndjson"))
)


def unescape(doc_id: str) -> bytes:
    """The file name an id spells, by the README's rule: ``\\xHH`` is a byte, ``\\\\`` a backslash."""
    return re.sub(
        rb"\\(\\|x([0-9a-f]{2}))",
        lambda m: b"\\" if m.group(1) == b"\\" else bytes([int(m.group(2), 16)]),
        doc_id.encode("utf-8"),
    )


@settings(max_examples=30, deadline=None)
@given(files=st.lists(st.tuples(FILE_NAMES, st.booleans()), min_size=1, max_size=8, unique_by=lambda f: f[0]))
def test_hostile_any_file_name_is_indexed_or_skipped_with_one_warning_line(files):
    with tempfile.TemporaryDirectory() as tmp:
        docs = os.path.join(os.fsencode(tmp), b"docs")
        os.mkdir(docs)
        with open(os.path.join(docs, b"valide.txt"), "wb") as out:
            out.write("Le dossier numéro 1000 parle de la traite.".encode())
        for number, (name, text) in enumerate(files, start=1001):
            with open(os.path.join(docs, name), "wb") as out:
                out.write(f"Le dossier numéro {number} parle de la traite.".encode() if text else b"\x00\x01\x02")
        index = create_index(os.path.join(tmp, "ix"))
        warnings = []
        index.add([os.fsdecode(docs)], jobs=1, on_warning=warnings.append)

        assert index.search("1000").hits[0].doc_id == "valide.txt"
        # Hidden files (a name starting with a dot) are not read, as ls and git do not show them.
        numbered = list(enumerate(files, start=1001))
        for number, (name, _) in numbered:
            if name[:1] == b".":
                assert index.search(str(number)).hits == ()
        shown = [(number, name, text) for number, (name, text) in numbered if name[:1] != b"."]
        binary = []
        for number, name, text in shown:
            found = [hit.doc_id for hit in index.search(str(number)).hits]
            if not text:
                assert found == []
                binary.append(name)
                continue
            [doc_id] = found
            assert unescape(doc_id) == name
            assert not re.search(r"[\x00-\x1f\x7f\ud800-\udfff]", doc_id)  # one line of valid text
            with contextlib.suppress(UnicodeDecodeError):
                if not re.search(r"[\x00-\x1f\x7f\\\\]", name.decode("utf-8")):
                    assert doc_id == name.decode("utf-8")  # a plain name is its own id
        assert all("\n" not in w and "\r" not in w for w in warnings), warnings
        folder = os.fsdecode(docs)
        assert sorted(warnings) == sorted(
            f"{folder}/{path_id(os.fsdecode(name))}: skipped, binary file (it contains NUL bytes)" for name in binary
        )
        # Each file is deleted by its name as it is on disk, as a shell passes it.
        texts = [name for _, name, text in shown if text]
        assert index.delete([os.fsdecode(name) for name in texts]) == len(texts)
        assert [d.id for d in index.documents()] == ["valide.txt"]
        index.close()


def test_hostile_undecodable_file_names_through_the_command(run, tmp_path):
    docs = os.path.join(os.fsencode(tmp_path), b"docs")
    os.mkdir(docs)
    for name, text in [(b"caf\xe9.txt", "Les victimes de la traite."), (b"ok.txt", "La traite des êtres humains."),
                       (b"deux\nlignes.txt", "Une note sur l’impunité."), (b"-x.txt", "Une note sur la justice.")]:
        with open(os.path.join(docs, name), "wb") as out:
            out.write(text.encode())
    with open(os.path.join(docs, b"image\xff.bin"), "wb") as out:
        out.write(b"\x00\x01")
    ix = tmp_path / "ix"
    result = run("index", os.fsdecode(docs), "--index", ix)
    assert result.exit_code == 0
    assert result.stderr == f"Warning: {tmp_path}/docs/image\\xff.bin: skipped, binary file (it contains NUL bytes)\n"
    assert result.stdout.startswith("Indexed 4 documents (4 passages) in ")
    found = run("search", "victimes", "--index", ix)
    assert found.stdout.startswith("1. caf\\xe9.txt · passage 0 · score ")
    # The id as shown, typed back; then the name as it is on disk, as bytes in argv.
    deleted = run("delete", "caf\\xe9.txt", "deux\\x0alignes.txt", "--index", ix)
    assert (deleted.exit_code, deleted.stdout) == (0, f"Deleted 2 documents from {ix}\n")
    assert run("index", os.fsdecode(docs), "--index", ix).stdout.startswith("Indexed 2 documents (2 passages), 2 unchanged")
    done = subprocess.run([sys.executable, "-m", "searchlib", "delete", b"--index", os.fsencode(ix), b"caf\xe9.txt",
                           b"deux\nlignes.txt", b"--", b"-x.txt"], capture_output=True)
    assert (done.returncode, done.stderr, done.stdout) == (0, b"", f"Deleted 3 documents from {ix}\n".encode())
    # --prune follows such a file too.
    assert run("index", os.fsdecode(docs), "--index", ix).stdout.startswith("Indexed 3 documents")
    os.remove(os.path.join(docs, b"caf\xe9.txt"))
    pruned = run("index", os.fsdecode(docs), "--index", ix, "--prune")
    assert pruned.stdout.startswith("Indexed 0 documents (0 passages), 3 unchanged, 1 pruned in ")
    with open_index(ix) as index:
        assert [d.id for d in index.documents()] == ["-x.txt", "deux\\x0alignes.txt", "ok.txt"]


def sparse_file(path, size) -> None:
    """A file of ``size`` bytes that takes no room on disk (its bytes are never written), or a skip."""
    with open(path, "wb") as out:
        out.truncate(size)
    if os.stat(path).st_blocks * 512 > 1 << 20:
        os.remove(path)
        pytest.skip("this file system does not keep sparse files: a 10 GB file would be written")


def test_hostile_documents_over_the_size_limit_are_skipped_with_one_line_each(run, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "court.txt").write_text("La traite des êtres humains.", encoding="utf-8")
    (docs / "long.txt").write_text("Les victimes de la traite. " * 100, encoding="utf-8")  # 2,700 characters
    sparse_file(docs / "énorme.txt", 10 * 2**30)  # 10 GB: refused by its size, unread
    (docs / "d.jsonl").write_text("\n".join([
        json.dumps({"id": "j1", "text": "Une note sur la justice."}),
        json.dumps({"id": "j2", "text": "La traite. " * 300}),  # 3,300 characters
        json.dumps({"id": "j3", "text": "x" * (12 * 2_000 + 2**20)}),  # longer than any line of 2,000 characters
        json.dumps({"id": "j4", "text": "Les frontières."}),
    ]) + "\n", encoding="utf-8")
    ix = tmp_path / "ix"
    result = run("index", docs, "--index", ix, "--max-chars", 2_000)
    limit = "over the limit of 2,000 characters per document (--max-chars raises it)"
    assert (result.exit_code, result.stderr) == (0, (
        f"Warning: {docs / 'd.jsonl'} line 2: skipped, 3,300 characters, {limit}\n"
        f"Warning: {docs / 'd.jsonl'} line 3: skipped, more than 1,072,576 bytes, {limit}\n"
        f"Warning: {docs / 'long.txt'}: skipped, 2,700 characters, {limit}\n"
        f"Warning: {docs / 'énorme.txt'}: skipped, 10,737,418,240 bytes, {limit}\n"
    ))
    assert result.stdout.startswith("Indexed 3 documents (3 passages) in ")
    raised = run("index", docs, "--index", ix, "--max-chars", 3_500, "--prune")
    assert raised.stderr == (
        f"Warning: {docs / 'd.jsonl'} line 3: skipped, 1,072,576 characters, over the limit of 3,500 "
        "characters per document (--max-chars raises it)\n"
        f"Warning: {docs / 'énorme.txt'}: skipped, 10,737,418,240 bytes, over the limit of 3,500 characters per "
        "document (--max-chars raises it)\n"
    )
    assert raised.stdout.startswith("Indexed 2 documents (134 passages), 3 unchanged in ")
    with open_index(ix) as index:
        assert [d.id for d in index.documents()] == ["court.txt", "j1", "j2", "j4", "long.txt"]


def test_hostile_the_default_limit_is_named_with_its_option(run, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("La traite des êtres humains.", encoding="utf-8")
    (docs / "b.txt").write_text("Les victimes de la traite. " * 37_038, encoding="utf-8")  # 1,000,026 characters
    result = run("index", docs, "--index", tmp_path / "ix")
    assert (result.exit_code, result.stderr) == (0, (
        f"Warning: {docs / 'b.txt'}: skipped, 1,000,026 characters, over the limit of 1,000,000 characters per "
        "document (--max-chars raises it)\n"
    ))
    assert result.stdout.startswith("Indexed 1 document (1 passage) in ")
    from searchlib import Document, create_index

    index = create_index(tmp_path / "api")
    warnings = []
    report = index.add([Document(id="n", text="x" * 11), Document(id="m", text="Une note.")], max_chars=10,
                       on_warning=warnings.append)
    assert (report.documents, warnings) == (1, ["n: skipped, 11 characters, over the limit of 10 characters per "
                                                "document (--max-chars raises it)"])


# -- JSONL --------------------------------------------------------------------


@pytest.fixture()
def indexed(run, tmp_path):
    """A folder of one note, indexed."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "note.txt").write_text("Une note sur la traite.", encoding="utf-8")
    run("index", tmp_path / "docs", "--index", tmp_path / "ix")
    return tmp_path / "ix"


def commit_of(ix) -> int:
    return windex.TOC._latest_generation(FileStorage(str(ix)), "MAIN")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "c", "text": "Gamma"', "invalid JSON (Expecting ',' delimiter at column 28)"),
        ('{"id": "c", "title": "Sans texte"}', 'missing the "text" field'),
        ('{"id": "c", "text": null}', '"text" must be a string, got null'),
        ('{"id": "c", "text": ["Gamma"]}', '"text" must be a string, got list'),
        ('{"id": "c", "text": "Gamma", "title": 3}', '"title" must be a string, got int'),
        ("\xff\xfe", "not valid UTF-8"),
    ],
)
def test_hostile_a_bad_jsonl_line_is_named_and_nothing_is_committed(run, tmp_path, indexed, line, message):
    path = tmp_path / "docs.jsonl"
    path.write_bytes(b'{"id": "a", "text": "Alpha."}\n{"id": "b", "text": "Beta."}\n' + line.encode("latin-1") + b"\n")
    before = commit_of(indexed)
    result = run("index", path, "--index", indexed)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {path} line 3: {message}; fix the line, or pass --skip-errors to skip bad lines\n"
    assert commit_of(indexed) == before


def test_hostile_skip_errors_indexes_the_good_lines_and_reports_the_bad(run, tmp_path, indexed):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "a", "text": "Alpha."}\n{"id": "b"}\n{"id": "c", "text": "Gamma."}\n', encoding="utf-8")
    result = run("index", path, "--index", indexed, "--skip-errors")
    assert result.exit_code == 0
    # Once (the file is read twice: checked, then indexed), and --skip-errors is not suggested again.
    assert result.stderr == f"Warning: {path} line 2: missing the \"text\" field (skipped)\n"
    assert result.stdout.startswith("Indexed 2 documents (2 passages) in ")


def test_hostile_a_warning_is_one_line_whatever_a_jsonl_id_holds(run, tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "deux\\nlignes", "text": "  "}\n{"id": "b", "text": "La traite."}\n', encoding="utf-8")
    result = run("index", path, "--index", tmp_path / "ix")
    assert (result.exit_code, result.stderr) == (0, "Warning: deux\\x0alignes: skipped, no text\n")


# -- queries ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"Convention de Palerme', 'unbalanced quote: a phrase opened with " is never closed; add the closing "'),
        ("(traite OR victimes", "unbalanced parenthesis: a ( is never closed; add the )"),
        ("NOT", "NOT needs a term after it, as in: traite NOT personnes"),
        ("auteur:Dupont", "unknown field 'auteur' in 'auteur:Dupont'; known fields: text, title, entity, type, lang, doc"),
        ("victimes " * 1_111 + "x", "the query is 10,000 characters long; the limit is 1,000. Shorten it"),
    ],
)
def test_hostile_bad_queries_are_one_error_line(run, seed_index, query, message):
    result = run("search", query, "--index", seed_index.path)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {message}\n")


SYNTAX = ['"', "(", ")", "AND", "OR", "NOT", "*", "?", "~", "~2", "^", "^2", ":", "text:", "entity:", "type:",
          "lang:", "doc:", "title:", "’", "'", "-", "+", "[", "]", "{", "}", "TO", "\\", " ", "traite", "été"]


@settings(max_examples=300, deadline=None)
@given(query=st.text(max_size=60) | st.lists(st.sampled_from(SYNTAX) | st.text(max_size=3), max_size=12).map("".join))
def test_hostile_any_unicode_query_raises_only_searchlib_errors(seed_index, query):
    with contextlib.suppress(SearchlibError):
        seed_index.search(query)


# -- damaged indexes ----------------------------------------------------------


def truncate_segment(ix):
    [segment] = ix.glob("*.seg")
    data = segment.read_bytes()
    segment.write_bytes(data[: len(data) // 2])
    return f"its segment file {segment.name} cannot be read (EOFError: Ran out of input)"


def zero_the_stored_fields(ix):
    # The stored fields are one region of the compound segment file: zero it,
    # so that opening works but reading any stored passage fails.
    storage = FileStorage(str(ix))
    [segment] = windex.TOC.read(storage, "MAIN").segments
    compound = segment.open_compound_file(storage)
    region = compound._dir[segment.make_filename("._stored.col")]
    compound.close()
    path = ix / segment.make_filename(".seg")
    data = bytearray(path.read_bytes())
    data[region["offset"] : region["offset"] + region["length"] // 2] = bytes(region["length"] // 2)
    path.write_bytes(bytes(data))


def remove_the_toc(ix):
    next(ix.glob("_MAIN_*.toc")).unlink()
    return "its table of contents is missing"


def truncate_the_toc(ix):
    toc = next(ix.glob("_MAIN_*.toc"))
    toc.write_bytes(toc.read_bytes()[:100])
    return "it cannot be read (UnpicklingError: pickle data was truncated)"


@pytest.mark.parametrize("damage", [truncate_segment, remove_the_toc, truncate_the_toc])
def test_hostile_a_damaged_index_is_refused_untouched(run, indexed, tmp_path, damage):
    why = damage(indexed)
    files = snapshot(indexed)
    expected = f"Error: the index at {indexed} is damaged: {why}; {REMEDY.format(ix=indexed)}\n"
    for command in (["search", "traite"], ["info"], ["check"], ["delete", "note.txt"], ["index", tmp_path / "docs"]):
        result = run(*command, "--index", indexed)
        assert (result.exit_code, result.stderr) == (1, expected), command
    assert snapshot(indexed) == files


def test_hostile_damaged_bytes_inside_a_segment_are_found_by_check(run, indexed, tmp_path):
    zero_the_stored_fields(indexed)
    files = snapshot(indexed)
    checked = run("check", "--index", indexed)
    assert checked.exit_code == 1
    assert re.fullmatch(
        rf"Error: the index at {re.escape(str(indexed))} is damaged: searchlib check found 2 problems: "
        r"stored record 0 cannot be read \(error: Error -\d while decompressing data: [^)]+\); "
        r"stored record 1 cannot be read \(error: Error -\d while decompressing data: [^)]+\); "
        + re.escape(REMEDY.format(ix=indexed)) + "\n",
        checked.stderr,
    ), checked.stderr
    for command in (["search", "traite"], ["index", tmp_path / "docs"]):
        result = run(*command, "--index", indexed)
        assert result.exit_code == 1
        assert re.fullmatch(
            rf"Error: the index at {re.escape(str(indexed))} is damaged: it cannot be read \(error: Error -\d while "
            r"decompressing data: [^)]+\); searchlib check lists the damage; "
            + re.escape(REMEDY.format(ix=indexed)) + "\n",
            result.stderr,
        ), result.stderr
    assert snapshot(indexed) == files


# -- paths --------------------------------------------------------------------


def test_hostile_symlink_loops_in_a_folder_are_read_once(run, tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "sub" / "a.txt").write_text("La traite des êtres humains.", encoding="utf-8")
    (docs / "sub" / "up").symlink_to(docs, target_is_directory=True)
    (docs / "self").symlink_to(docs / "self")
    result = run("index", docs, "--index", tmp_path / "ix")
    assert result.exit_code == 0
    assert result.stderr == (
        f"Warning: {docs / 'self'}: skipped, a symbolic link loop (it leads back to itself)\n"
        f"Warning: {docs / 'sub' / 'up'}: skipped, a link back to a folder already read\n"
    )
    assert result.stdout.startswith("Indexed 1 document (1 passage) in ")


class Unprivileged:
    """Runs ``searchlib ARGS`` where file permissions apply, on files in :attr:`folder`.

    Permissions do not stop root, and the tests may run as root: then the
    command runs in a child process, forked from this one, that gives root
    up for the ``nobody`` user first. Its files must be where nobody can
    reach them, hence a folder of its own outside the test's tmp_path.
    """

    def __init__(self, folder):
        self.folder = folder

    def __call__(self, *args) -> tuple[int, str, str]:
        """Run the command; return its exit code, standard output and standard error."""
        args = [str(a) for a in args]
        if os.geteuid() != 0:
            result = CliRunner().invoke(main, args, catch_exceptions=False)
            return result.exit_code, result.stdout, result.stderr
        out, err = self.folder / ".out", self.folder / ".err"
        child = multiprocessing.get_context("fork").Process(target=_as_nobody, args=(args, out, err))
        child.start()
        child.join()
        if child.exitcode == 99:
            pytest.skip(f"running as root, and root cannot be given up here: {err.read_text(encoding='utf-8')}")
        return child.exitcode, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")


@pytest.fixture()
def unprivileged(fork_cli, tmp_path):
    folder = pathlib.Path(tempfile.mkdtemp(prefix="searchlib-perm-"))
    folder.chmod(0o777)
    # A child that gave up root cannot read the Python installation if it
    # lives in /root: load spaCy (fork_cli does) and index once here, so that
    # everything indexing imports is imported before the fork.
    (tmp_path / "warm").mkdir()
    (tmp_path / "warm" / "a.txt").write_text("La traite des êtres humains.", encoding="utf-8")
    CliRunner().invoke(main, ["index", str(tmp_path / "warm"), "--index", str(tmp_path / "ix"), "--prune"])
    yield Unprivileged(folder)
    shutil.rmtree(folder, ignore_errors=True)


def _as_nobody(args, out, err):
    # Opened while still root; pytest's capture of this process's output is bypassed.
    sys.stdout = open(out, "w", encoding="utf-8")  # noqa: SIM115
    sys.stderr = open(err, "w", encoding="utf-8")  # noqa: SIM115
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    except OSError as exc:
        print(exc, file=sys.stderr, flush=True)
        os._exit(99)
    try:
        main(args, prog_name="searchlib")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def test_hostile_an_unreadable_file_is_skipped_with_a_warning(unprivileged):
    docs = unprivileged.folder / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("La traite des êtres humains.", encoding="utf-8")
    (docs / "secret.txt").write_text("Un secret.", encoding="utf-8")
    (docs / "secret.txt").chmod(0)
    code, out, err = unprivileged("index", docs, "--index", unprivileged.folder / "ix")
    assert (code, err) == (0, f"Warning: {docs / 'secret.txt'}: skipped, cannot read it (Permission denied)\n")
    assert out.startswith("Indexed 1 document (1 passage) in ")


def test_hostile_an_unreadable_folder_is_skipped_and_never_pruned(unprivileged):
    docs = unprivileged.folder / "docs"
    (docs / "closed").mkdir(parents=True)
    (docs / "a.txt").write_text("La traite des êtres humains.", encoding="utf-8")
    (docs / "closed" / "b.txt").write_text("Les victimes.", encoding="utf-8")
    ix = unprivileged.folder / "ix"
    assert unprivileged("index", docs, "--index", ix)[0] == 0
    (docs / "closed").chmod(0)
    code, out, err = unprivileged("index", docs, "--index", ix, "--prune")
    assert (code, err) == (0, f"Warning: {docs / 'closed'}: skipped, permission denied\n")
    assert out.startswith("Indexed 0 documents (0 passages), 1 unchanged in ")
    with open_index(ix) as index:
        assert [h.doc_id for h in index.search("victimes").hits] == ["closed/b.txt"]


def test_hostile_an_unreadable_file_named_on_the_command_line_is_a_usage_error(unprivileged):
    path = unprivileged.folder / "docs.jsonl"
    path.write_text('{"id": "a", "text": "Alpha."}\n', encoding="utf-8")
    path.chmod(0)
    code, out, err = unprivileged("index", path, "--index", unprivileged.folder / "ix")
    assert (code, out) == (2, "")
    assert err.endswith(f"\nError: Invalid value for '[PATHS]...': Path '{path}' is not readable.\n")
