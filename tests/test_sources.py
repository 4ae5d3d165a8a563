import io
import os
import sys

import pytest

from searchlib.errors import InputError
from searchlib.sources import Document, SourceSet, path_id


def read(sources, **kw):
    warnings = []
    with SourceSet(sources, warn=warnings.append, **kw) as source_set:
        source_set.validate()
        docs = list(source_set.documents())
    return docs, warnings


def test_sources_folder_is_read_recursively_with_relative_ids(tmp_path):
    (tmp_path / "a.txt").write_text("Titre A\n\nCorps A.", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("# Titre B\n\nCorps B.", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("caché", encoding="utf-8")
    docs, warnings = read([tmp_path])
    assert [(d.id, d.title) for d in docs] == [("a.txt", "Titre A"), ("sub/b.md", "Titre B")]
    assert warnings == []


def test_sources_a_file_is_named_by_its_file_name(tmp_path):
    path = tmp_path / "note.txt"
    path.write_text("Une note.", encoding="utf-8")
    docs, _ = read([path])
    assert docs == [Document(id="note.txt", text="Une note.", title="Une note.")]


def test_sources_jsonl_lines_become_documents(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text(
        '{"id": "d1", "title": "T1", "text": "Premier.", "lang": "fr"}\n\n{"id": 2, "text": "Second."}\n',
        encoding="utf-8",
    )
    docs, _ = read([path])
    assert docs == [
        Document(id="d1", text="Premier.", title="T1", lang="fr"),
        Document(id="2", text="Second.", title="", lang=None),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x", "text": "ok"', "invalid JSON (Expecting ',' delimiter at column 25)"),
        ('{"id": "x"}', 'missing the "text" field'),
        ('{"id": "x", "text": null}', '"text" must be a string, got null'),
        ('{"id": "x", "text": "a", "title": null, "lang": null}', None),
        ('{"id": "x", "text": 3}', '"text" must be a string, got int'),
        ('{"id": [1], "text": "a"}', '"id" must be a string or an integer, got list'),
        ('["a"]', 'expected a JSON object with a "text" field, got list'),
        ('{"text": "a", "lang": 7}', '"lang" must be a string, got int'),
    ],
)
def test_sources_malformed_jsonl_names_the_line(tmp_path, line, message):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "ok", "text": "Bien."}\n' + line + "\n", encoding="utf-8")
    if message is None:  # null optional fields are absent ones
        assert [d.id for d in read([path])[0]] == ["ok", "x"]
        return
    with pytest.raises(InputError) as info:
        read([path])
    assert str(info.value) == f"{path} line 2: {message}; fix the line, or pass --skip-errors to skip bad lines"


def test_sources_skip_errors_skips_bad_lines_and_says_so(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "a", "text": "A."}\nnot json\n{"id": "b", "text": "B."}\n', encoding="utf-8")
    docs, warnings = read([path], skip_errors=True)
    assert [d.id for d in docs] == ["a", "b"]
    # Once, though the file is read twice (validated, then indexed), and without suggesting --skip-errors.
    assert warnings == [f"{path} line 2: invalid JSON (Expecting value at column 1) (skipped)"]


def test_sources_binary_file_in_a_folder_is_skipped_with_a_warning(tmp_path):
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "ok.txt").write_text("Texte.", encoding="utf-8")
    docs, warnings = read([tmp_path])
    assert [d.id for d in docs] == ["ok.txt"]
    assert warnings == [f"{tmp_path / 'image.png'}: skipped, binary file (it contains NUL bytes)"]


def test_sources_windows_1252_french_is_decoded_and_said_so(tmp_path):
    path = tmp_path / "ancien.txt"
    path.write_bytes("Lutte contre la traite des êtres humains : l’impunité.".encode("cp1252"))
    docs, warnings = read([path])
    assert docs[0].text == "Lutte contre la traite des êtres humains : l’impunité."
    assert warnings == [f"{path}: not UTF-8: decoded as Windows-1252 (Latin-1)"]


def test_sources_missing_path_is_an_error(tmp_path):
    with pytest.raises(InputError) as info:
        read([tmp_path / "nope"])
    assert str(info.value) == f"{tmp_path / 'nope'}: no such file or directory"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.symlink_to(p), "a symbolic link loop (it leads back to itself); point to a file or folder"),
        (lambda p: (p.symlink_to(p.with_name("b")), p.with_name("b").symlink_to(p)),
         "a symbolic link loop (it leads back to itself); point to a file or folder"),
        (lambda p: p.symlink_to("nowhere.txt"), "a broken symbolic link (to nowhere.txt, which does not exist)"),
    ],
)
def test_sources_a_bad_link_given_directly_says_what_it_is(tmp_path, make, message):
    make(tmp_path / "a")
    with pytest.raises(InputError) as info:
        read([tmp_path / "a"])
    assert str(info.value) == f"{tmp_path / 'a'}: {message}"


def test_sources_what_is_not_a_file_in_a_folder_is_named(tmp_path):
    (tmp_path / "ok.txt").write_text("Texte.", encoding="utf-8")
    (tmp_path / "boucle").symlink_to(tmp_path / "boucle")
    (tmp_path / "cassé").symlink_to(tmp_path / "absent.txt")
    os.mkfifo(tmp_path / "tube")
    docs, warnings = read([tmp_path])
    assert [d.id for d in docs] == ["ok.txt"]
    assert warnings == [
        f"{tmp_path / 'boucle'}: skipped, a symbolic link loop (it leads back to itself)",
        f"{tmp_path / 'cassé'}: skipped, a broken symbolic link (to {tmp_path / 'absent.txt'}, which does not exist)",
        f"{tmp_path / 'tube'}: skipped, not a regular file (a named pipe)",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"Un texte venu de l'entr\xc3\xa9e standard.", [Document(id="-", text="Un texte venu de l'entrée standard.", title="Un texte venu de l'entrée standard.")]),
        (b'{"id": "j", "text": "JSON."}\n', [Document(id="j", text="JSON.")]),
    ],
)
def test_sources_dash_reads_standard_input(monkeypatch, data, expected):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    docs, _ = read(["-"])
    assert docs == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (b"caf\xe9.txt", "caf\\xe9.txt"),  # Latin-1 "é": not UTF-8
        ("café’s notes.txt".encode(), "café’s notes.txt"),
        (b"two\nlines.txt", "two\\x0alines.txt"),
        (b"tab\there\r.txt", "tab\\x09here\\x0d.txt"),
        (b"-n --prune.txt", "-n --prune.txt"),
        (b"back\\slash\\xe9.txt", "back\\\\slash\\\\xe9.txt"),
        (b"\xed\xa0\x80\xff", "\\xed\\xa0\\x80\\xff"),  # an encoded surrogate is not UTF-8 either
        (b"n" * 255, "n" * 255),
    ],
)
def test_sources_any_file_name_gets_a_one_line_reversible_id(tmp_path, name, expected):
    folder = os.fsencode(tmp_path / "docs")
    os.mkdir(folder)
    with open(os.path.join(folder, name), "wb") as out:
        out.write("La traite des êtres humains.".encode())
    with open(os.path.join(folder, b"voisin.txt"), "wb") as out:
        out.write("Les victimes.".encode())
    docs, warnings = read([tmp_path / "docs"])
    assert warnings == []
    assert sorted(d.id for d in docs) == sorted([expected, "voisin.txt"])
    [doc] = [d for d in docs if d.id == expected]
    assert doc.path == path_id(str(tmp_path.resolve() / "docs")) + "/" + expected
    assert path_id(os.fsdecode(name)) == expected


def test_sources_a_file_given_by_an_undecodable_name_is_read(tmp_path):
    path = os.path.join(os.fsencode(tmp_path), b"r\xe9sum\xe9.txt")
    with open(path, "wb") as out:
        out.write("Un résumé.".encode())
    docs, warnings = read([os.fsdecode(path)])
    assert (warnings, [d.id for d in docs]) == ([], ["r\\xe9sum\\xe9.txt"])


@pytest.mark.parametrize(
    ("given", "stored"),
    [("caf\udce9.txt", "caf\\xe9.txt"), ("note", "note"), ("a\nb", "a\nb"), ("\\x", "\\x")],
)
def test_sources_document_ids_with_undecodable_bytes_are_stored_as_file_ids(given, stored):
    docs, _ = read([Document(id=given, text="Une note.")])
    assert [d.id for d in docs] == [stored]
