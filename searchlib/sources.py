"""Stage 1: turn paths, JSONL files and standard input into :class:`Document` objects.

Reading is where user input is most often broken, so every problem here either
becomes a warning that names the file (a binary file in a folder, an
undecodable file) or an :class:`~searchlib.errors.InputError` that names the
file and line (malformed JSONL). Nothing is half-read silently.
"""

from __future__ import annotations

import codecs
import errno
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Union

from .errors import InputError
from .text import clean_text

JSONL_SUFFIXES = (".jsonl", ".ndjson")
#: The longest document indexed unless told otherwise (``--max-chars``): about
#: 500 pages, a long book, and the size of a batch (``writer.BATCH_CHARS``). A
#: document is analyzed and committed whole: the index shows none of it until
#: it is all written, and a batch's postings held in memory beyond 128 MB spill
#: to temporary files (152 MB of them for a document of 2,000,000 characters,
#: next to none for 1,000,000). Longer texts are better cut into documents.
MAX_DOCUMENT_CHARS = 1_000_000
#: A character takes at most 4 bytes in UTF-8 and UTF-16 and 12 in a JSON
#: escape ("\ud83d\ude00"): a longer file or line is over the limit unread.
_MAX_BYTES_PER_CHAR = 4
_MAX_JSON_BYTES_PER_CHAR = 12
#: Room on a JSONL line for the fields beside the text.
_JSON_SLACK = 1 << 20
# What a file name may hold that an id or a message line cannot: bytes that are
# not UTF-8 (decoded by Python as lone surrogates), control characters, and the
# backslash that introduces the escapes.
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x1f\x7f\\\ud800-\udfff]")
MARKDOWN_SUFFIXES = (".md", ".markdown")
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Document:
    """One document to index.

    >>> Document(id="note-1", text="La traite des êtres humains.", title="Note")
    Document(id='note-1', text='La traite des êtres humains.', title='Note', lang=None)
    """

    id: str
    text: str
    title: str = ""
    #: Language code or alias; ``None`` means the index default (French).
    lang: str | None = None
    #: The absolute path of the file the document was read from (a JSONL file
    #: for its lines), or ``None``. ``--prune`` uses it to find the documents
    #: whose file is gone; it is where the document came from, not part of it.
    path: str | None = field(default=None, compare=False, repr=False)


Source = Union[str, os.PathLike, Document]
Warn = Callable[[str], None]


@dataclass(frozen=True)
class _File:
    path: Path
    #: Document ids are paths relative to this root.
    root: Path
    #: Shown in messages: the path as the user gave it, or "<stdin>".
    label: str
    #: Stored with its documents: the file's absolute path, through the
    #: resolved root, so that naming the folder another way finds it again.
    source: str | None = None
    #: Its size in bytes when walked.
    size: int = 0

    @property
    def is_jsonl(self) -> bool:
        return self.path.suffix.lower() in JSONL_SUFFIXES


class SourceSet:
    """The files and documents behind a list of sources, walked once up front.

    Walking first lets :meth:`validate` check every JSONL line before anything
    is written, so that a malformed line leaves the index untouched. Once
    :meth:`documents` has been read through, :meth:`gone` tells which earlier
    documents no longer exist in the folders and files walked.
    """

    def __init__(
        self,
        sources: Iterable[Source],
        *,
        warn: Warn,
        skip_errors: bool = False,
        max_chars: int = MAX_DOCUMENT_CHARS,
    ) -> None:
        self._warn = warn
        self._skip_errors = skip_errors
        self._max_chars = max_chars
        #: Characters of the documents to read, as far as known: JSONL lines
        #: and given documents once validated, text files by their size in
        #: bytes until they are read. Progress estimates go by it.
        self.total_chars = 0
        #: Of those, the characters of files skipped while reading them.
        self.skipped_chars = 0
        # JSONL problems found by validate(), so that reading again does not report them twice.
        self._reported: set[tuple[str, int]] = set()
        self._items: list[_File | Document] = []
        self._spooled: list[Path] = []
        # What --prune needs to know: the folders and files given, the files
        # found in them, the folders that could not be read, and the ids each
        # JSONL file holds (unless some of its lines were skipped).
        self._scopes: list[str] = []
        self._found: set[str] = set()
        self._unreadable: list[str] = []
        self._jsonl_ids: dict[str, set[str]] = {}
        self._jsonl_incomplete: set[str] = set()
        for source in sources:
            if isinstance(source, Document):
                self._items.append(source)
            elif str(source) == "-":
                self._items.append(self._spool_stdin())
            else:
                self._items.extend(self._walk(Path(source)))

    def close(self) -> None:
        """Remove the temporary copy of standard input, if one was made."""
        for path in self._spooled:
            path.unlink(missing_ok=True)
        self._spooled.clear()

    def __enter__(self) -> SourceSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- walking -----------------------------------------------------------

    def _walk(self, path: Path) -> Iterator[_File]:
        if not path.exists():
            raise InputError(f"{path_id(str(path))}: {_unreachable(path)}")
        if path.is_file():
            source = path_id(os.path.join(path.parent.resolve(), path.name))
            self._scopes.append(source)
            self._found.add(source)
            yield _File(path, path.parent, path_id(str(path)), source, _size(path))
            return
        root = path
        base = root.resolve()
        self._scopes.append(path_id(str(base)))

        def walk_error(error: OSError) -> None:
            if error.filename:
                self._unreadable.append(path_id(str(base / Path(error.filename).relative_to(root))))
            where = path_id(str(error.filename))
            self._warn(f"{where}: skipped, {error.strerror.lower() if error.strerror else error}")

        seen_dirs: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=walk_error):
            st = os.stat(dirpath)
            if (st.st_dev, st.st_ino) in seen_dirs:
                # A symlink loop, or two links to one folder: read it once.
                self._warn(f"{path_id(dirpath)}: skipped, a link back to a folder already read")
                dirnames[:] = []
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                file = Path(dirpath, name)
                if not file.is_file():
                    self._warn(f"{path_id(str(file))}: skipped, {_not_regular(file)}")
                    continue
                source = path_id(str(base / file.relative_to(root)))
                self._found.add(source)
                yield _File(file, root, path_id(str(file)), source, _size(file))

    def _spool_stdin(self) -> _File:
        # Standard input can only be read once, and JSONL must be validated
        # before indexing, so it goes to a temporary file first.
        data = sys.stdin.buffer.read()
        suffix = ".jsonl" if data.lstrip()[:1] == b"{" else ".txt"
        fd, name = tempfile.mkstemp(prefix="searchlib-stdin-", suffix=suffix)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        path = Path(name)
        self._spooled.append(path)
        return _File(path, path.parent, "<stdin>", size=len(data))

    # -- reading -----------------------------------------------------------

    def validate(self, check: Callable[[Document], object] | None = None) -> None:
        """Parse every JSONL line now; raise :class:`InputError` at the first bad one.

        ``check`` is called on every JSONL and given document, so that a
        problem such as an unknown language also surfaces before any write.
        """
        for item in self._items:
            if isinstance(item, Document):
                docs: Iterable[Document] = [item] if self._within_limit(item, given_id(item.id)) else []
            elif item.is_jsonl:
                docs = self._read_jsonl(item)
            else:
                self.total_chars += item.size
                continue
            for doc in docs:
                self.total_chars += len(doc.text)
                if check is not None:
                    check(doc)

    def text_files(self) -> int:
        """How many plain-text files the sources name: one document each, unless unreadable."""
        return sum(1 for item in self._items if isinstance(item, _File) and not item.is_jsonl)

    def documents(self) -> Iterator[Document]:
        """Every document, in order, streamed: no file is held longer than it is read."""
        for item in self._items:
            if isinstance(item, Document):
                if len(item.text) > self._max_chars:
                    continue  # reported by validate()
                yield Document(
                    id=given_id(item.id), text=clean_text(item.text), title=clean_text(item.title), lang=item.lang,
                    path=item.path,
                )
            elif item.is_jsonl:
                ids = self._jsonl_ids.setdefault(item.source, set()) if item.source else set()
                for doc in self._read_jsonl(item):
                    ids.add(doc.id)
                    yield doc
            else:
                doc = self._read_text_file(item)
                if doc is not None:
                    yield doc

    def _doc_id(self, item: _File) -> str:
        if item.label == "<stdin>":
            return "-"
        return path_id(item.path.relative_to(item.root).as_posix())

    def _read_text_file(self, item: _File) -> Document | None:
        if item.size > _MAX_BYTES_PER_CHAR * self._max_chars:
            self._warn(f"{item.label}: skipped, {item.size:,} bytes, {self._over_limit}")
            self.skipped_chars += item.size
            return None
        try:
            data = item.path.read_bytes()
        except OSError as exc:
            self._warn(f"{item.label}: skipped, cannot read it ({exc.strerror or exc})")
            self.skipped_chars += item.size
            return None
        try:
            text, note = decode(data)
        except InputError as exc:
            self._warn(f"{item.label}: skipped, {exc}")
            self.skipped_chars += item.size
            return None
        if len(text) > self._max_chars:
            self._warn(f"{item.label}: skipped, {len(text):,} characters, {self._over_limit}")
            self.skipped_chars += item.size
            return None
        # Counted by its size until now: count its characters.
        self.total_chars += len(text) - item.size
        if note:
            self._warn(f"{item.label}: {note}")
        markdown = item.path.suffix.lower() in MARKDOWN_SUFFIXES
        return Document(
            id=self._doc_id(item), text=text, title=first_line_title(text, markdown=markdown), path=item.source
        )

    def _read_jsonl(self, item: _File) -> Iterator[Document]:
        try:
            handle: IO[bytes] = item.path.open("rb")
        except OSError as exc:
            raise InputError(f"{item.label}: cannot read it ({exc.strerror or exc})") from None
        cap = _MAX_JSON_BYTES_PER_CHAR * self._max_chars + _JSON_SLACK
        with handle:
            for lineno, raw in _lines(handle, cap):
                if raw is None:
                    if item.source:
                        self._jsonl_incomplete.add(item.source)  # its id is unknown: prune nothing by this file
                    self._report(item, lineno, f"{item.label} line {lineno}: skipped, more than {cap:,} bytes, "
                                               f"{self._over_limit}")
                    continue
                if not raw.strip():
                    continue
                try:
                    doc = parse_jsonl_line(raw, item.label, lineno)
                except InputError as exc:
                    if not self._skip_errors:
                        raise
                    if item.source:
                        self._jsonl_incomplete.add(item.source)
                    self._report(item, lineno, str(exc).removesuffix(f"; {_JSONL_HINT}") + " (skipped)")
                    continue
                if len(doc.text) > self._max_chars:
                    if item.source:
                        self._jsonl_ids.setdefault(item.source, set()).add(doc.id)  # its line is still there
                    self._report(item, lineno, f"{item.label} line {lineno}: skipped, {len(doc.text):,} "
                                               f"characters, {self._over_limit}")
                    continue
                yield replace(doc, path=item.source)

    @property
    def _over_limit(self) -> str:
        return f"over the limit of {self._max_chars:,} characters per document (--max-chars raises it)"

    def _report(self, item: _File, lineno: int, message: str) -> None:
        """Warn about a JSONL line once, though the file is read twice (validate, then index)."""
        if (item.label, lineno) not in self._reported:
            self._reported.add((item.label, lineno))
            self._warn(message)

    def _within_limit(self, doc: Document, label: str) -> bool:
        if len(doc.text) <= self._max_chars:
            return True
        self._warn(f"{label}: skipped, {len(doc.text):,} characters, {self._over_limit}")
        return False

    # -- pruning -----------------------------------------------------------

    def gone(self, doc_id: str, path: str | None) -> bool:
        """Whether a document indexed earlier from ``path`` no longer exists.

        It is gone when ``path`` lies in a folder or is a file walked here,
        and either the walk did not find that file (deleted, moved, renamed),
        or the file is a JSONL file, read whole, with no line of that id. A
        file in a folder the walk could not read is never gone, and neither
        is a file that still exists but could not be read this time.
        """
        if path is None or not any(_within(path, scope) for scope in self._scopes):
            return False
        if any(_within(path, folder) for folder in self._unreadable):
            return False
        if path not in self._found:
            return True
        if path in self._jsonl_ids and path not in self._jsonl_incomplete:
            return doc_id not in self._jsonl_ids[path]
        return False


def path_id(path: str) -> str:
    r"""A file path as searchlib writes it in document ids and messages: one line of text, reversibly.

    A file name may hold any byte but ``/`` and NUL. Each byte that is not
    part of valid UTF-8, and each control character (a newline, a tab), is
    written ``\xHH`` (two lowercase hex digits), and a backslash ``\\``;
    everything else is kept as it is. So the id reads as the name does, fits
    on one line, can be typed back (``searchlib delete 'caf\xe9.txt'``), and
    names exactly one file.

    >>> path_id("notes/caf\udce9 1.txt")    # the byte 0xE9 (Latin-1 "é"), not UTF-8
    'notes/caf\\xe9 1.txt'
    >>> path_id("a\nb\\c.txt")
    'a\\x0ab\\\\c.txt'
    """
    if not _UNSAFE_IN_PATH.search(path):
        return path
    try:
        raw = os.fsencode(path)
    except UnicodeEncodeError:  # a surrogate that no file name decodes to
        raw = path.encode("utf-8", "surrogatepass")
    out = []
    for char in raw.decode("utf-8", "surrogateescape"):
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as Python spells it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif char == "\\":
            out.append("\\\\")
        else:
            out.append(char)
    return "".join(out)


def given_id(doc_id: str) -> str:
    """A document id as given (on the command line, in a :class:`Document`), as it is stored.

    An id is text. One holding bytes that are not UTF-8, as a file name typed
    on the command line does, is taken to be that file name, written as
    :func:`path_id` writes it; any other id is kept as it is.
    """
    try:
        doc_id.encode("utf-8")
    except UnicodeEncodeError:
        return path_id(doc_id)
    return doc_id


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reading it will say why


def _lines(handle: IO[bytes], cap: int) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, line)``; ``None`` for a line longer than ``cap`` bytes, which is skipped unread."""
    lineno = 0
    while raw := handle.readline(cap):
        lineno += 1
        if len(raw) >= cap and not raw.endswith(b"\n"):
            while (rest := handle.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield lineno, None
        else:
            yield lineno, raw


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


_JSONL_HINT = "fix the line, or pass --skip-errors to skip bad lines"


def parse_jsonl_line(raw: bytes, label: str, lineno: int) -> Document:
    """One JSONL line → :class:`Document`, or :class:`InputError` naming the line."""
    where = f"{label} line {lineno}"
    hint = _JSONL_HINT
    try:
        record = json.loads(raw.decode("utf-8-sig").strip())
    except UnicodeDecodeError:
        raise InputError(f"{where}: not valid UTF-8; {hint}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno}); {hint}") from None
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object with a \"text\" field, got {type(record).__name__}; {hint}")
    if "text" not in record:
        raise InputError(f"{where}: missing the \"text\" field; {hint}")
    text = record["text"]
    if not isinstance(text, str):
        raise InputError(f"{where}: \"text\" must be a string, got {_json_type(text)}; {hint}")
    doc_id = record.get("id")
    if doc_id is None:
        doc_id = f"{label}:{lineno}"
    elif isinstance(doc_id, (str, int)) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    else:
        raise InputError(f"{where}: \"id\" must be a string or an integer, got {_json_type(doc_id)}; {hint}")
    fields = {}
    for key in ("title", "lang"):
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{where}: \"{key}\" must be a string, got {_json_type(value)}; {hint}")
        fields[key] = value
    return Document(
        id=clean_text(doc_id), text=clean_text(text), title=clean_text(fields["title"] or ""), lang=fields["lang"] or None
    )


def _json_type(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _unreachable(path: Path) -> str:
    """Why a path that does not exist, as far as :meth:`Path.exists` can tell, cannot be read."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop (it leads back to itself); point to a file or folder"
        if exc.errno == errno.ENOENT and path.is_symlink():
            return f"a broken symbolic link (to {path_id(os.readlink(path))}, which does not exist)"
        if exc.errno == errno.ENOENT:
            return "no such file or directory"
        return (exc.strerror or str(exc)).lower()
    return "no such file or directory"


def _not_regular(path: Path) -> str:
    """Why a name found in a folder is not read: what it is instead of a file."""
    if path.is_symlink():
        return _unreachable(path).split(";")[0]
    mode = path.lstat().st_mode if path.exists() else 0
    for test, what in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device")):
        if test(mode):
            return f"not a regular file ({what})"
    return "not a regular file"


def decode(data: bytes) -> tuple[str, str | None]:
    """Bytes → text, plus a note when the encoding was not UTF-8.

    UTF-8 (with or without a BOM) and UTF-16 with a BOM are read as such. Other
    bytes are tried as Windows-1252, the usual encoding of older French text
    files, and accepted only if the result looks like text. Binary data raises
    :class:`InputError`.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "decoded as UTF-16"
        except UnicodeDecodeError:
            raise InputError("not valid UTF-16 despite its byte-order mark") from None
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise InputError("binary file (it contains NUL bytes)")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise InputError("neither UTF-8 nor Windows-1252 text; convert it to UTF-8") from None
    if not _looks_like_text(text):
        raise InputError("binary or unknown encoding; convert it to UTF-8")
    return text, "not UTF-8: decoded as Windows-1252 (Latin-1)"


def _looks_like_text(text: str) -> bool:
    sample = text[:_SNIFF_BYTES]
    if not sample:
        return True
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\t\n\r\f")
    letters = sum(1 for c in sample if c.isalpha())
    return controls <= len(sample) * 0.01 and letters >= len(sample) * 0.3


def first_line_title(text: str, *, markdown: bool = False) -> str:
    """The title of a text file: its first non-blank line (without ``#`` in Markdown)."""
    for line in text.splitlines():
        line = line.strip()
        if markdown:
            line = line.lstrip("#").strip()
        if line:
            return line
    return ""
