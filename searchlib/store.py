"""The index folder on disk: its files, its lock, and opening and checking the Whoosh index in it.

Everything that knows the folder's layout is here (the meta, lock and origins
files, what an unreadable file means), and the readers searches borrow;
:func:`~searchlib.index.create_index` makes an index from these parts.
Nothing here analyzes, ranks or writes documents.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pickle
import re
import socket
import struct
import sys
import sysconfig
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh.reading import SegmentReader

from . import __version__
from .errors import IndexCorruptError, IndexLockedError, IndexVersionError, NotAnIndexError, SearchlibError
from .schema import KIND_DOC, KIND_PASSAGE, SCHEMA_VERSION
from .termtable import DamagedTermTable

ENV_INDEX = "SEARCHLIB_INDEX"
DEFAULT_INDEX = "index"
META_FILE = "searchlib.json"
LOCK_FILE = "searchlib.lock"
#: Where unchanged documents were last read from, when not from the file they were analyzed from.
ORIGINS_FILE = "searchlib.paths.json"
#: Seconds a writer waits for another writer to finish.
DEFAULT_WAIT = 5.0
_FORMAT = "searchlib-index"
#: What Whoosh raises when an index file is truncated or its bytes are damaged.
_DAMAGE = (EOFError, FileNotFoundError, struct.error, zlib.error, pickle.UnpicklingError, DamagedTermTable)
_UNFINISHED_CREATION = re.compile(r"_MAIN_0\.toc(\.[0-9.]+)?|" + re.escape(META_FILE) + r"\.tmp")
#: Times a reader retries a table of contents that a writer replaced just as it was opened.
_TOC_RETRIES = 20
#: Readers kept open for the next searches, per index; more threads searching
#: at once open more, and close them afterwards.
MAX_IDLE_READERS = 8


# -- where an index is -----------------------------------------------------


def default_index_path() -> Path:
    """``$SEARCHLIB_INDEX`` if set, else ``./index``."""
    return Path(os.environ.get(ENV_INDEX) or DEFAULT_INDEX)


def bundled_corpus() -> Path:
    """The folder of the article that ships with searchlib."""
    candidates = [Path(__file__).resolve().parent.parent / "corpus"]
    for scheme_path in {sysconfig.get_path("data"), sys.prefix}:
        candidates.append(Path(scheme_path) / "share" / "searchlib" / "corpus")
    for candidate in candidates:
        if candidate.is_dir() and any(candidate.glob("*.txt")):
            return candidate
    raise SearchlibError("the bundled corpus is missing; reinstall searchlib with: pip install .")


def index_exists(path: str | os.PathLike) -> bool:
    """True when ``path`` holds a searchlib index (of any schema version)."""
    return (Path(path) / META_FILE).is_file()


# -- making and opening ----------------------------------------------------


def _check_creatable(path: Path) -> None:
    if index_exists(path):
        raise SearchlibError(f"{path} already holds an index; open it with open_index() or pick another folder")
    if path.exists() and not path.is_dir():
        raise NotAnIndexError(f"{path} is a file, not an index folder; pick another --index path")
    if path.is_dir() and not _is_empty_dir(path):
        raise NotAnIndexError(
            f"{path} is not empty and is not a searchlib index; pick an empty or new folder for --index"
        )


def _open_whoosh(path: Path) -> windex.FileIndex:
    """Open the Whoosh index in ``path`` and every segment its table of contents lists.

    Opening only reads: a damaged file is reported, never repaired or removed.
    """
    for attempt in range(1, _TOC_RETRIES + 1):
        try:
            ix = windex.open_dir(str(path))
            break
        except windex.EmptyIndexError:
            raise IndexCorruptError(_corrupt(path, "its table of contents is missing")) from None
        except FileNotFoundError:
            # A writer committed, and removed the table of contents we had
            # just found, before we opened it: read the new one.
            if attempt == _TOC_RETRIES:
                raise IndexCorruptError(_corrupt(path, "its table of contents keeps vanishing")) from None
            time.sleep(0.05)
        except Exception as exc:  # whoosh raises many kinds on damaged files
            raise IndexCorruptError(_corrupt(path, f"it cannot be read ({_describe(exc)})")) from None
    try:
        # Opening a reader opens every segment file (whoosh retries a file
        # that a concurrent commit merged away), which finds a truncated one.
        ix.reader().close()
    except Exception as exc:
        raise IndexCorruptError(_corrupt(path, _segment_damage(ix, exc))) from None
    return ix


def _segment_damage(ix: windex.FileIndex, exc: Exception) -> str:
    """Say which segment file cannot be opened, for the error message."""
    try:
        toc = windex.TOC.read(ix.storage, ix.indexname)
        for segment in toc.segments:
            try:
                SegmentReader(ix.storage, toc.schema, segment).close()
            except Exception as segment_exc:
                name = segment.make_filename(segment.COMPOUND_EXT) if segment.is_compound() else segment.segment_id()
                return f"its segment file {name} cannot be read ({_describe(segment_exc)})"
    except Exception:  # the table of contents itself went bad meanwhile: report the first error
        pass
    return f"it cannot be read ({_describe(exc)})"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _check_meta(path: Path) -> None:
    try:
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(_corrupt(path, f"{META_FILE} cannot be read ({exc})")) from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise NotAnIndexError(f"{path}/{META_FILE} is not a searchlib index description; point --index elsewhere")
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise IndexVersionError(
            f"the index at {path} has schema version {version}, and this searchlib ({__version__}) reads version "
            f"{SCHEMA_VERSION}; rebuild it: move it aside, then run searchlib index [PATH...] --index {path}"
        )


def _corrupt(path: Path, why: str) -> str:
    return f"the index at {path} is damaged: {why}; rebuild it: move it aside, then run searchlib index [PATH...] --index {path}"


def _is_empty_dir(path: Path) -> bool:
    # A checkout's index/ holds only its .gitignore. A creation killed before
    # it wrote searchlib.json leaves Whoosh's first table of contents, which
    # never lists a segment (commits start at generation 1): no data either.
    # A creation under way holds the lock file.
    return all(
        entry.name.startswith(".") or entry.name == LOCK_FILE or _UNFINISHED_CREATION.fullmatch(entry.name)
        for entry in path.iterdir()
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- the readers searches borrow -------------------------------------------


class _ReaderPool:
    """Readers of the last commit, each lent to one thread at a time.

    A Whoosh reader cannot be shared by threads that read at once: every
    segment reader reads its postings through one file object, with a
    ``seek`` then a ``read`` (``whoosh/codec/whoosh3.py``, ``W3LeafMatcher``),
    so two threads would read each other's positions. Readers are cheap to
    open (the segment files are memory-mapped, so their pages are shared) and
    read-only, so each search borrows one, and gives it back for the next.

    When a commit changes the index, idle readers are closed and the next
    searches open readers on the new commit; a search that is running keeps
    its reader, which still sees the commit it opened (a mapped file outlives
    the commit that deletes it), so it sees the old or the new commit, never
    a mix. Whatever is kept per reader (the engine's statistics of it, its
    query vocabulary) is thus only ever used by one thread at a time, and
    needs no lock.
    """

    def __init__(self, ix: windex.FileIndex) -> None:
        self._ix = ix
        self._lock = threading.Lock()
        self._generation = -1
        self._idle: list[Any] = []
        self._closed = False

    @contextlib.contextmanager
    def lend(self) -> Iterator[Any]:
        """A reader on the last commit, for this thread alone until the block ends."""
        latest = self._ix.latest_generation()
        stale: list[Any] = []
        with self._lock:
            if self._closed:
                raise SearchlibError("this index was closed; open it again with open_index()")
            if latest != self._generation:
                stale, self._idle = self._idle, []
                self._generation = latest
            generation = self._generation
            reader = self._idle.pop() if self._idle else None
        for old in stale:
            old.close()
        if reader is None:
            reader = self._ix.reader()
        try:
            yield reader
        finally:
            with self._lock:
                # A reader opened just after a commit is newer than `generation`:
                # it is closed rather than pooled, which is merely wasteful.
                keep = not self._closed and self._generation == generation == _generation_of(reader, generation)
                if keep and len(self._idle) < MAX_IDLE_READERS:
                    self._idle.append(reader)
                else:
                    keep = False
            if not keep:
                reader.close()

    def close(self) -> None:
        """Close the idle readers; readers still lent are closed when given back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for reader in idle:
            reader.close()


def _generation_of(reader: Any, default: int) -> int:
    """The commit a reader reads; an index with no segments has an empty reader, without one."""
    generation = reader.generation()
    return default if generation is None else generation


# -- the lock a writer holds -----------------------------------------------


class _FolderLock:
    """``searchlib.lock`` in an index folder, held by the one process that writes there.

    The lock is an advisory ``flock``: the kernel releases it when its holder
    dies, so a lock left by a killed process never blocks anyone, and a live
    holder is never broken. The holder writes who it is into the file, for
    the message of a writer that waited in vain.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._held = False

    def acquire(self, wait: float) -> None:
        """Take the lock, waiting at most ``wait`` seconds; raise :class:`IndexLockedError` if still held."""
        import fcntl

        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                raise IndexLockedError(
                    f"the index at {self.path.parent} is being written by {_lock_holder(self.fd)} (lock {self.path}); "
                    f"waited {wait:g}s. Wait for it to finish, or retry with a longer --wait"
                )
            time.sleep(0.05)
        self._held = True
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv), "since": _now()}
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, json.dumps(info).encode("utf-8"), 0)

    def release(self) -> None:
        import fcntl

        if self._held:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            self._held = False

    def close(self) -> None:
        try:
            self.release()
        finally:
            os.close(self.fd)


def _lock_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return f"process {info['pid']} on {info['host']} ({info['command']!r}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


# -- where unchanged documents were read from ------------------------------


class _Origins:
    """Where documents were last read from, when it is not the file they were analyzed from.

    A document's record keeps the file it was analyzed from (``path``), and
    a record cannot change without analyzing the document again. An
    unchanged document read from another file (a copy, a moved folder), or
    given as an object, is not analyzed again: its new origin is kept here,
    in :data:`ORIGINS_FILE`, with the content hash it holds for, so that
    ``--prune`` follows the file a document is now read from. Once the
    document is analyzed again, its record has the new path, and its entry
    goes: it is dropped, and the file saved, before the commit that replaces
    the document, so an entry never outlives the content it was made for.
    New entries are saved at the end of a write; a crash that loses them
    leaves the recorded paths of the last run, which the next run brings
    up to date. Only the holder of the write lock reads or writes the file,
    and it is replaced whole, atomically.
    """

    def __init__(self, folder: Path) -> None:
        self._file = folder / ORIGINS_FILE
        self.reload()

    def reload(self) -> None:
        """Read the file again (another writer may have changed it); unsaved changes are lost."""
        self._entries = _read_origins(self._file)
        self._changed = False
        self._forgotten = False

    def path_of(self, doc_id: str, content_hash: str | None, recorded: str | None) -> str | None:
        """The file a document was last read from: its entry, if made for this content, else ``recorded``."""
        entry = self._entries.get(doc_id)
        return entry[1] if entry is not None and entry[0] == content_hash else recorded

    def read_from(self, doc_id: str, content_hash: str, recorded: str | None, path: str | None) -> None:
        """An unchanged document was read from ``path`` (``None``: not from a file)."""
        if path == self.path_of(doc_id, content_hash, recorded):
            return
        if path == recorded:
            del self._entries[doc_id]
        else:
            self._entries[doc_id] = (content_hash, path)
        self._changed = True

    def forget(self, doc_ids: Iterable[str]) -> None:
        """Documents about to be analyzed again, or removed."""
        for doc_id in doc_ids:
            if self._entries.pop(doc_id, None) is not None:
                self._changed = self._forgotten = True

    def save(self, *, only_if_forgotten: bool = False) -> None:
        if not self._changed or (only_if_forgotten and not self._forgotten):
            return
        if self._entries:
            data = {"format": "searchlib-paths", "documents": {k: list(v) for k, v in self._entries.items()}}
            write_durably(self._file, json.dumps(data, ensure_ascii=False))
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._file)
        self._changed = self._forgotten = False


def _read_origins(path: Path) -> dict[str, tuple[str, str | None]]:
    """The entries of :data:`ORIGINS_FILE`; none if it does not exist."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(_origins_damaged(path, str(exc))) from None
    documents = data.get("documents") if isinstance(data, dict) and data.get("format") == "searchlib-paths" else None
    if not isinstance(documents, dict) or not all(
        isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], (str, type(None)))
        for v in documents.values()
    ):
        raise IndexCorruptError(_origins_damaged(path, "not a list of documents and paths"))
    return {doc_id: (entry[0], entry[1]) for doc_id, entry in documents.items()}


def _origins_damaged(path: Path, why: str) -> str:
    return (
        f"the index at {path.parent} is damaged: {path.name} cannot be read ({why}); remove that file (it only "
        "records where unchanged documents were last read from, for --prune), then index the folders again"
    )


# -- checking and measuring ------------------------------------------------


def _postings(reader: Any, fieldname: str, term: str | bytes) -> list[int]:
    """Every document number posted under a term, reading each posting's value too."""
    matcher = reader.postings(fieldname, term)
    ids = []
    while matcher.is_active():
        ids.append(matcher.id())
        matcher.value()
        matcher.next()
    return ids


def _check_postings(
    reader: Any, live: set[int], stored: dict[int, dict[str, Any]], problems: list[str]
) -> tuple[dict[str, set[int]], int]:
    """Decode every postings list; return the live records of each kind, and the number of terms."""
    kinds: dict[str, set[int]] = {KIND_DOC: set(), KIND_PASSAGE: set()}
    terms = 0
    size = reader.doc_count_all()
    for fieldname in sorted(reader.indexed_field_names()):
        try:
            for bterm in reader.lexicon(fieldname):
                terms += 1
                ids = _postings(reader, fieldname, bterm)
                if any(not 0 <= i < size for i in ids):
                    problems.append(f"postings of {fieldname}:{bterm!r} point past the last record")
                posted = live.intersection(ids)
                if fieldname == "kind":
                    kinds.setdefault(bterm.decode("utf-8"), set()).update(posted)
                elif fieldname == "doc_id":
                    doc_id = bterm.decode("utf-8")
                    wrong = sorted(i for i in posted if i in stored and stored[i].get("doc_id") != doc_id)
                    if wrong:
                        problems.append(f"postings of doc_id {doc_id!r} list records {wrong[:3]} of another document")
        except Exception as exc:  # damaged bytes surface as anything from zlib to pickle
            problems.append(f"postings of field {fieldname} cannot be read ({_describe(exc)})")
    unkinded = live - kinds[KIND_DOC] - kinds[KIND_PASSAGE]
    if unkinded:
        what = "record is" if len(unkinded) == 1 else "records are"
        problems.append(f"{len(unkinded)} {what} neither a passage nor a document, e.g. {min(unkinded)}")
    return kinds, terms


def _check_records(stored: dict[int, dict[str, Any]], kinds: dict[str, set[int]]) -> list[str]:
    """Check that document records and passages agree, from their stored fields."""
    problems = []
    expected: dict[str, int] = {}
    for docnum in sorted(kinds[KIND_DOC] & stored.keys()):
        fields = stored[docnum]
        doc_id, count = fields.get("doc_id"), fields.get("passages")
        if not isinstance(doc_id, str) or not isinstance(count, int):
            problems.append(f"document record {docnum} lacks its id or passage count")
        elif doc_id in expected:
            problems.append(f"document {doc_id!r} has two records")
        else:
            expected[doc_id] = count
    numbers: dict[str, list[int]] = defaultdict(list)
    for docnum in sorted(kinds[KIND_PASSAGE] & stored.keys()):
        fields = stored[docnum]
        doc_id, number, text = fields.get("doc_id"), fields.get("passage"), fields.get("text")
        if not (isinstance(doc_id, str) and isinstance(number, int) and isinstance(text, str)
                and isinstance(fields.get("start"), int)):
            problems.append(f"passage record {docnum} lacks its id, number, text or offset")
        else:
            numbers[doc_id].append(number)
    for doc_id in sorted(numbers.keys() - expected.keys()):
        problems.append(f"passages of {doc_id!r} have no document record")
    for doc_id, count in sorted(expected.items()):
        if sorted(numbers.get(doc_id, ())) != list(range(count)):
            held = len(numbers.get(doc_id, ()))
            problems.append(f"document {doc_id!r} should have {_plural(count, 'passage')}, the index holds {held}")
    return problems


# -- durable commits ---------------------------------------------------------


def durable(writer: Any) -> Any:
    """``writer``, whose commits are on disk by the time they return, in the order SQLite and Lucene keep.

    whoosh3 never calls fsync. A commit writes its segment file, then its table
    of contents under a temporary name that it renames; after a power cut the
    new table of contents could name a segment whose bytes never reached the
    disk, or be empty itself, and the index would not open. Here the segment
    files that a commit adds are synced before the table of contents is
    written, the table of contents before its rename, and the folder after
    each step, so that the new names last too. Older segments were synced by
    their own commit; deletions live in the table of contents.
    """
    storage = writer.storage
    folder = Path(storage.folder)
    committed = {segment.segment_id() for segment in writer.segments}
    write_toc = writer._commit_toc
    rename = storage.rename_file

    def synced_rename(old: str, new: str, safe: bool = False) -> None:
        _fsync(folder / old)
        rename(old, new, safe=safe)

    def synced_toc(segments: list[Any]) -> None:
        for segment in segments:
            if segment.segment_id() not in committed:
                for name in segment.list_files(storage):
                    _fsync(folder / name)
        _fsync_folder(folder)
        # The table of contents is written and renamed inside Whoosh: its rename
        # is the one moment to sync the temporary file. Writers hold the lock.
        storage.rename_file = synced_rename
        try:
            write_toc(segments)
        finally:
            del storage.rename_file
        _fsync_folder(folder)

    writer._commit_toc = synced_toc
    return writer


def write_durably(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` whole: the old file or the new one survives a power cut, never a mix."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, path)
    _fsync_folder(path.parent)


def created_durably(path: Path, meta: dict[str, Any]) -> None:
    """Finish a new index in ``path``: its first table of contents and ``searchlib.json``, synced.

    Whoosh writes the first table of contents without a sync, and a later
    commit syncs only its own files. Without this, a power cut long after the
    index filled up could still leave an empty ``searchlib.json`` beside
    intact segments, and the index would not open.
    """
    for toc in path.glob("_MAIN_*.toc"):
        _fsync(toc)
    write_durably(path / META_FILE, json.dumps(meta, indent=2) + "\n")
    # The index's own folder is a new entry of its parent.
    _fsync_folder(path.resolve().parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(path: Path) -> None:
    """Make the folder's entries (new and renamed files) durable; Windows has no such call, nor needs it."""
    if os.name != "nt":
        _fsync(path)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _folder_size(path: Path) -> int:
    total = 0
    for entry in os.scandir(path):
        # A writer may remove a file between the listing and the stat.
        with contextlib.suppress(FileNotFoundError):
            if entry.is_file():
                total += entry.stat().st_size
    return total
