"""Stage 7: the on-disk index, and the public API that reads and writes it.

>>> index = open_index("index", create=True)                  # doctest: +SKIP
>>> index.add(["corpus"])                                     # doctest: +SKIP
>>> index.search("victimes de la traite", limit=3).hits[0].highlight  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pickle
import re
import shutil
import socket
import struct
import sys
import sysconfig
import threading
import time
import weakref
import zlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh import query as wq
from whoosh.reading import SegmentReader
from whoosh.searching import Searcher

from . import __version__
from .analysis import content_hash
from .engine import Engine
from .errors import (
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    NotAnIndexError,
    SearchlibError,
)
from .highlight import find_matches, html_highlight
from .languages import DEFAULT_LANGUAGE, Language, get_language
from .pipeline import Assembler, Pipeline, Piece, PieceResult, Task, default_jobs, pieces_of, tasks_of
from .query import EntityLeaf, QueryCompiler, Vocabulary, check_entity_type
from .ranking import DEFAULT, Ranking
from .schema import KIND_DOC, KIND_PASSAGE, SCHEMA_VERSION, entity_key, entity_typed_key, make_schema
from .sources import MAX_DOCUMENT_CHARS, Document, Source, SourceSet, given_id, path_id
from .codec import Codec
from .whoosh_fixes import AndNot, Require

ENV_INDEX = "SEARCHLIB_INDEX"
DEFAULT_INDEX = "index"
META_FILE = "searchlib.json"
LOCK_FILE = "searchlib.lock"
#: Where unchanged documents were last read from, when not from the file they were analyzed from.
ORIGINS_FILE = "searchlib.paths.json"
#: Seconds a writer waits for another writer to finish.
DEFAULT_WAIT = 5.0
#: Documents committed together: a crash loses at most the batch in flight.
#: A batch ends at this many documents or :data:`BATCH_CHARS` characters.
BATCH_DOCUMENTS = 1_000
#: About two minutes of one core's analysis: a commit costs a fixed part per
#: term, so larger batches index faster, and Whoosh keeps a batch's postings
#: in memory (about 100 MB per million characters).
BATCH_CHARS = 1_000_000
#: Memory Whoosh may use for a batch's postings before it spills them to disk.
WRITER_LIMIT_MB = 128
#: Segments within a factor MERGE_FACTOR of each other in size are merged once
#: there are MERGE_FACTOR of them: every search visits every segment, so fewer
#: is faster, and each document is rewritten only about log8(index / batch) times.
MERGE_FACTOR = 8
_FORMAT = "searchlib-index"
#: What Whoosh raises when an index file is truncated or its bytes are damaged.
_DAMAGE = (EOFError, FileNotFoundError, struct.error, zlib.error, pickle.UnpicklingError)
_UNFINISHED_CREATION = re.compile(r"_MAIN_0\.toc(\.[0-9.]+)?|" + re.escape(META_FILE) + r"\.tmp")
#: Times a reader retries a table of contents that a writer replaced just as it was opened.
_TOC_RETRIES = 20
#: Readers kept open for the next searches, per index; more threads searching
#: at once open more, and close them afterwards.
MAX_IDLE_READERS = 8


@dataclass(frozen=True)
class EntityMention:
    """A named entity as written in a passage."""

    text: str
    label: str


@dataclass(frozen=True)
class Hit:
    """One passage that matched a search.

    ``matches`` are ``(start, end)`` offsets into ``text``, one per marked
    word: ``text[s:e]`` is the word as written. ``start`` and ``end`` place the
    passage in its document.
    """

    rank: int
    score: float
    doc_id: str
    passage: int
    title: str
    lang: str
    text: str
    start: int
    end: int
    matches: tuple[tuple[int, int], ...]
    highlight: str
    entities: tuple[EntityMention, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the hit, as ``searchlib search --format json`` prints it."""
        data = asdict(self)
        data["matches"] = [list(m) for m in self.matches]
        data["entities"] = [asdict(e) for e in self.entities]
        return data


@dataclass(frozen=True)
class SearchResults:
    """The answer to one search: the ranked hits, the total, and a suggestion."""

    query: str
    total: int
    suggestion: str | None
    hits: tuple[Hit, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "suggestion": self.suggestion,
            "hits": [hit.to_dict() for hit in self.hits],
        }


@dataclass(frozen=True)
class EntityCount:
    """How many passages mention an entity."""

    text: str
    label: str
    passages: int


@dataclass(frozen=True)
class IndexInfo:
    """What an index holds."""

    path: str
    documents: int
    passages: int
    languages: dict[str, int]
    size_bytes: int
    schema_version: int
    searchlib_version: str


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document: its id, title, main language and size."""

    id: str
    title: str
    lang: str
    passages: int
    words: int


@dataclass(frozen=True)
class AddReport:
    """What one call to :meth:`Index.add` did."""

    documents: int
    passages: int
    words: int
    unchanged: int
    empty: int
    #: Documents removed because their file is gone (``prune=True``).
    pruned: int
    seconds: float
    warnings: tuple[str, ...]
    #: Of ``seconds``, the time spent loading language models before analysis.
    model_seconds: float = 0.0


@dataclass(frozen=True)
class CheckReport:
    """What :meth:`Index.check` read and found consistent."""

    documents: int
    passages: int
    segments: int
    #: Postings lists read, one per term of every field.
    terms: int
    #: The commit the index is at: Whoosh's table-of-contents generation.
    generation: int


@dataclass(frozen=True)
class Progress:
    """Sent to an ``on_progress`` callback after each indexed document (and each chunk of a long one)."""

    documents: int
    passages: int
    words: int
    seconds: float
    #: Documents skipped so far: unchanged, or with no text.
    skipped: int = 0
    #: Documents the sources hold, when known before reading them (an upper bound).
    total: int | None = None
    #: Characters analyzed so far; a long document advances by each of its chunks.
    chars: int = 0
    #: Characters of the documents and files skipped so far (unchanged, unreadable, too long...).
    skipped_chars: int = 0
    #: Characters the sources hold, as far as known (text files not yet read count by their size).
    total_chars: int | None = None
    #: A batch is being committed: the analysis of what it holds is done.
    writing: bool = False


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


def create_index(path: str | os.PathLike) -> Index:
    """Create an empty index in ``path`` (made if missing), which must not hold one.

    Creation holds the folder's lock: two processes creating the same index
    at once never mix their files; the second finds the index made.

    >>> index = create_index("/tmp/my-index")                 # doctest: +SKIP
    """
    return _create(Path(path), exist_ok=False)


def _create(path: Path, *, exist_ok: bool) -> Index:
    """Create the index in ``path``; with ``exist_ok``, open the one another process made meanwhile."""
    _check_creatable(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        lock = _FolderLock(path)
    except OSError as exc:
        raise SearchlibError(f"cannot create an index in {path}: {exc.strerror or exc}") from None
    try:
        lock.acquire(DEFAULT_WAIT)
        if index_exists(path) and exist_ok:
            _check_meta(path)
            return Index(path, _open_whoosh(path))
        _check_creatable(path)
        try:
            windex.create_in(str(path), make_schema())
            meta = {"format": _FORMAT, "schema_version": SCHEMA_VERSION, "searchlib": __version__, "created": _now()}
            tmp = path / (META_FILE + ".tmp")
            tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, path / META_FILE)
        except OSError as exc:
            raise SearchlibError(f"cannot create an index in {path}: {exc.strerror or exc}") from None
    finally:
        lock.close()
    return Index(path, windex.open_dir(str(path)))


def _check_creatable(path: Path) -> None:
    if index_exists(path):
        raise SearchlibError(f"{path} already holds an index; open it with open_index() or pick another folder")
    if path.exists() and not path.is_dir():
        raise NotAnIndexError(f"{path} is a file, not an index folder; pick another --index path")
    if path.is_dir() and not _is_empty_dir(path):
        raise NotAnIndexError(
            f"{path} is not empty and is not a searchlib index; pick an empty or new folder for --index"
        )


def open_index(path: str | os.PathLike | None = None, *, create: bool = False) -> Index:
    """Open the index in ``path`` (default: :func:`default_index_path`).

    With ``create=True``, a missing or empty folder gets a new, empty index.
    Opening never changes an existing index.
    """
    path = Path(path) if path is not None else default_index_path()
    if not index_exists(path):
        if path.is_dir() and not _is_empty_dir(path):
            raise NotAnIndexError(
                f"{path} is not a searchlib index (it has no {META_FILE}); point --index at an index folder, "
                "or at a new folder to build one there"
            )
        if path.exists() and not path.is_dir():
            raise NotAnIndexError(f"{path} is a file, not an index folder; point --index at a folder")
        if create:
            return _create(path, exist_ok=True)
        raise IndexNotFoundError(f"no index at {path}; build one with: searchlib index [PATH...] --index {path}")
    _check_meta(path)
    return Index(path, _open_whoosh(path))


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


def _postings(reader: Any, fieldname: str, term: str | bytes) -> list[int]:
    """Every document number posted under a term, reading each posting's value too."""
    matcher = reader.postings(fieldname, term)
    ids = []
    while matcher.is_active():
        ids.append(matcher.id())
        matcher.value()
        matcher.next()
    return ids


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


class Index:
    """A searchlib index on disk. Get one with :func:`open_index` or :func:`create_index`.

    >>> with open_index("index") as index:                 # doctest: +SKIP
    ...     results = index.search("exploiter", limit=3)
    """

    def __init__(self, path: Path, ix: windex.Index) -> None:
        self._path = path
        self._ix = ix
        self._lock_fds: tuple[int, ...] = ()
        self._readers = _ReaderPool(ix)
        self._engine = Engine()
        self._vocabularies: weakref.WeakKeyDictionary[Any, Vocabulary] = weakref.WeakKeyDictionary()

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        """Release the index and the readers it keeps open; a search still running keeps its reader until it ends."""
        self._readers.close()
        self._ix.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Index({str(self._path)!r})"

    # -- writing -----------------------------------------------------------

    def add(
        self,
        sources: Source | Iterable[Source],
        *,
        lang: str | None = None,
        wait: float = DEFAULT_WAIT,
        skip_errors: bool = False,
        prune: bool = False,
        batch_size: int = BATCH_DOCUMENTS,
        jobs: int | None = None,
        max_chars: int = MAX_DOCUMENT_CHARS,
        on_progress: Callable[[Progress], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> AddReport:
        """Index files, folders, JSONL files, ``"-"`` (standard input) or :class:`Document` objects.

        A document whose id is already indexed is replaced, never duplicated;
        one whose content has not changed is skipped, whatever file it is read
        from (only its new origin is recorded, for pruning). Documents are committed
        in batches of ``batch_size`` documents or :data:`BATCH_CHARS`
        characters, whichever comes first, so a crash loses at most the batch
        in flight. Every JSONL line is checked before anything is written: a
        malformed line raises :class:`~searchlib.errors.InputError` and leaves
        the index as it was.

        ``jobs`` worker processes analyze the text (default: one per core);
        the index is the same whatever their number. A document longer than
        ``max_chars`` characters is skipped with a warning: see
        :data:`~searchlib.sources.MAX_DOCUMENT_CHARS`.

        With ``prune``, documents last read from the folders and files
        given are removed when their file is gone, or, for a JSONL file, when
        it no longer has their line (see :meth:`SourceSet.gone
        <searchlib.sources.SourceSet.gone>`). Documents from elsewhere, from
        standard input or given as objects are never pruned.

        >>> index.add(["corpus", Document(id="n1", text="Une note.")])  # doctest: +SKIP
        >>> index.add(["corpus"], prune=True).pruned                   # doctest: +SKIP
        0
        """
        if batch_size < 1:
            raise SearchlibError(f"batch_size must be at least 1, not {batch_size}")
        if max_chars < 1:
            raise SearchlibError(f"max_chars must be at least 1, not {max_chars}")
        jobs = default_jobs() if jobs is None else jobs
        if jobs < 1:
            raise SearchlibError(f"jobs must be at least 1, not {jobs}")
        started = time.monotonic()
        warnings: list[str] = []

        def warn(message: str) -> None:
            warnings.append(message)
            if on_warning is not None:
                on_warning(message)

        forced = get_language(lang) if lang else None
        if isinstance(sources, (str, os.PathLike, Document)):
            sources = [sources]
        expected = 0

        def check(doc: Document) -> None:
            nonlocal expected
            expected += 1
            self._language_of(doc, forced)

        with SourceSet(sources, warn=warn, skip_errors=skip_errors, max_chars=max_chars) as source_set:
            source_set.validate(check=check)
            expected += source_set.text_files()
            with self._write_lock(wait) as lock, Pipeline(jobs=jobs, close_fds=self._lock_fds) as pipeline:
                origins = _Origins(self._path)
                run = _AddRun(self, forced, batch_size, wait, warn, on_progress, started, expected, origins, source_set,
                              lock, pipeline)
                try:
                    for item, results in pipeline.run(run.plan(source_set.documents())):
                        run.write(item, results)
                except BaseException:
                    run.cancel()
                    raise
                origins.save()
                if prune:
                    run.counts["pruned"] = self._prune(source_set.gone, wait, origins)
        return AddReport(
            seconds=time.monotonic() - started,
            warnings=tuple(warnings),
            model_seconds=pipeline.model_seconds,
            **run.counts,
        )

    def delete(self, doc_ids: Iterable[str], *, wait: float = DEFAULT_WAIT) -> int:
        """Remove documents and their passages, in one commit; returns how many were indexed.

        An id is the id as searchlib writes it, or a file's name as it is on
        disk: the id of a file whose name holds a newline or bytes that are
        not UTF-8 is written otherwise (see :func:`~searchlib.sources.path_id`),
        and is found from either.

        >>> index.delete(["notes/old.txt", "n1"])              # doctest: +SKIP
        2
        """
        ids = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids)
        with self._write_lock(wait):
            with self._reading() as searcher:

                def indexed(doc_id: str) -> str | None:
                    for candidate in dict.fromkeys((given_id(doc_id), path_id(doc_id))):
                        if searcher.document(kind=KIND_DOC, doc_id=candidate) is not None:
                            return candidate
                    return None

                present = [i for i in dict.fromkeys(indexed(i) for i in dict.fromkeys(ids)) if i is not None]
            return self._remove(present, wait, _Origins(self._path))

    def _prune(self, gone: Callable[[str, str | None], bool], wait: float, origins: _Origins) -> int:
        with self._reading() as searcher:
            ids = [
                f["doc_id"]
                for f in searcher.documents(kind=KIND_DOC)
                if gone(f["doc_id"], origins.path_of(f["doc_id"], f.get("hash"), f.get("path")))
            ]
        return self._remove(ids, wait, origins)

    def optimize(self, *, wait: float = DEFAULT_WAIT) -> int:
        """Merge every segment into one, for the fastest searches and the smallest index; returns the segments merged.

        Each commit of :meth:`add` adds a segment, and merges only segments of
        a similar size: a term is then written once per segment. Merging
        them all rewrites the whole index, which takes about as long as a
        tenth of the indexing did; searches go on meanwhile, on the last commit.

        >>> index.optimize()                                     # doctest: +SKIP
        5
        """
        with self._write_lock(wait):
            with self._reading() as searcher:
                segments = len(searcher.reader().leaf_readers()) if searcher.reader().doc_count_all() else 0
            if segments <= 1:
                return segments
            writer = self._writer(wait)
            try:
                writer.commit(optimize=True)
            except BaseException:
                _cancel(writer)
                raise
        return segments

    def _remove(self, doc_ids: Sequence[str], wait: float, origins: _Origins) -> int:
        """Delete indexed documents in one commit. The caller holds the write lock."""
        if not doc_ids:
            return 0
        origins.forget(doc_ids)
        origins.save()
        writer = self._writer(wait)
        try:
            for doc_id in doc_ids:
                writer.delete_by_term("doc_id", doc_id)
            writer.commit()
        except BaseException:
            _cancel(writer)
            raise
        return len(doc_ids)

    def _language_of(self, doc: Document, forced: Language | None) -> Language | None:
        """The language given for a document; ``None``: detect it."""
        if forced is not None:
            return forced
        return get_language(doc.lang) if doc.lang else None

    def _writer(self, wait: float) -> Any:
        try:
            writer = self._ix.writer(timeout=wait, limitmb=WRITER_LIMIT_MB, codec=Codec())
        except windex.LockError:
            raise IndexLockedError(
                f"the index at {self._path} is locked by another Whoosh writer (lock file MAIN_WRITELOCK); "
                "wait for it to finish, or retry with a longer --wait"
            ) from None
        if "path" not in writer.schema:
            # An index made before document records kept their file: the
            # field joins its schema with this commit.
            writer.add_field("path", make_schema()["path"])
        return writer

    def _clean_leftovers(self) -> None:
        """Remove what a killed writer left: uncommitted segments, sorting runs, half-written TOCs.

        Only a holder of the write lock calls this, so no writer is using those
        files, and readers only open the files the current table of contents
        lists. Whoosh removes the first two at its next commit; the third it
        never does.
        """
        storage, name = self._ix.storage, self._ix.indexname
        try:
            toc = windex.TOC.read(storage, name)
        except _DAMAGE as exc:
            why = f"its table of contents cannot be read ({_describe(exc)})"
            raise IndexCorruptError(_corrupt(self._path, why)) from None
        windex.clean_files(storage, name, toc.generation, toc.segments)
        half_written = re.compile(rf"_{re.escape(name)}_\d+\.toc\.[0-9.]+")
        for entry in os.listdir(self._path):
            if half_written.fullmatch(entry):
                with contextlib.suppress(OSError):
                    os.remove(self._path / entry)
        shutil.rmtree(self._path / f"{name}.tmp", ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._path / (ORIGINS_FILE + ".tmp"))

    @contextlib.contextmanager
    def _write_lock(self, wait: float) -> Iterator[_FolderLock]:
        """Hold ``searchlib.lock`` for a whole write (see :class:`_FolderLock`), and clean up after killed writers."""
        try:
            lock = _FolderLock(self._path)
        except OSError as exc:
            raise SearchlibError(f"cannot write to the index at {self._path}: {exc.strerror or exc}") from None
        try:
            lock.acquire(wait)
            # Worker processes inherit this descriptor; they close it (see pipeline.py).
            self._lock_fds = (lock.fd,)
            self._clean_leftovers()
            yield lock
        finally:
            self._lock_fds = ()
            lock.close()

    # -- reading -----------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self, **kwargs: Any) -> Iterator[Any]:
        """A searcher on the last committed state; an unreadable file raises :class:`IndexCorruptError`.

        The searcher's reader is lent to this thread alone until the block
        ends (see :class:`_ReaderPool`), so reads of one :class:`Index` from
        several threads run side by side.
        """
        try:
            with self._readers.lend() as reader:
                yield Searcher(reader, fromindex=self._ix, closereader=False, **kwargs)
        except _DAMAGE as exc:
            raise IndexCorruptError(
                _corrupt(self._path, f"it cannot be read ({_describe(exc)}); searchlib check lists the damage")
            ) from None

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        entity: str | None = None,
        entity_type: str | None = None,
        per_doc: bool = False,
        lang: str | None = None,
        plain: bool = False,
        highlight: bool = True,
        ranking: Ranking | None = None,
    ) -> SearchResults:
        """Rank passages for ``query``; see :mod:`searchlib.query` for the syntax.

        ``entity`` and ``entity_type`` keep only passages that mention such an
        entity; ``per_doc`` keeps the best passage of each document; ``lang``
        analyzes the query in that language only and keeps its passages;
        ``plain`` reads the query as plain words with no syntax, for text
        pasted from elsewhere (questions, titles); ``highlight=False`` skips
        finding the matches (``matches`` comes back empty), which is faster;
        ``ranking`` overrides the ranking parameters
        (:class:`searchlib.ranking.Ranking`), for evaluation.

        >>> index.search("exploiter", limit=1).hits[0].matches   # doctest: +SKIP
        ((161, 170),)
        """
        if limit < 1:
            raise SearchlibError(f"limit must be at least 1, not {limit}")
        ranking = ranking or DEFAULT
        with self._reading(weighting=ranking.weighting()) as searcher:
            reader = searcher.reader()
            languages = [get_language(lang)] if lang else self._languages(reader)
            compiler = QueryCompiler(reader, languages, ranking, vocabulary=self._vocabulary(reader))
            compiled = compiler.compile(query, plain=plain)
            filters: list[wq.Query] = []
            label = check_entity_type(entity_type) if entity_type else None
            if entity and label:
                filters.append(wq.Term("entity_typed", entity_typed_key(label, entity_key(entity))))
            elif entity:
                filters.append(wq.Term("entity", entity_key(entity)))
            elif label:
                filters.append(wq.Term("etype", label.lower()))
            if entity or label:
                compiled.leaves.append(EntityLeaf(key=entity_key(entity) if entity else None, label=label))
            if lang:
                filters.append(wq.Term("lang", languages[0].code))
            # Passages only. Excluding the one record per document costs a short
            # posting list; requiring kind=passage would walk the longest one
            # in the index for every query, and again for the total.
            passages = AndNot(compiled.query, wq.Term("kind", KIND_DOC))
            # Filters go in a Require (which scores by the query alone), and
            # documents are collapsed here: see whoosh_fixes on filter= and collapse=.
            document_terms = compiled.document_terms if ranking.document_weight else []
            ranked, total = self._rank(
                searcher,
                Require(passages, wq.And(filters)) if filters else passages,
                document_terms,
                ranking,
                limit=limit,
                per_doc=per_doc,
            )
            hits = self._hits(searcher, ranked, compiled.leaves, highlight=highlight)
            suggestion = compiler.suggest(query, compiled.unknown) if compiled.unknown else None
        return SearchResults(query=query, total=total, suggestion=suggestion, hits=tuple(hits))

    def _rank(
        self,
        searcher: Any,
        query: wq.Query,
        document_terms: Sequence[wq.Query],
        ranking: Ranking,
        *,
        limit: int,
        per_doc: bool,
    ) -> tuple[list[tuple[int, float, str]], int]:
        """The top ``limit`` ``(docnum, score, doc_id)`` (best passage per document with ``per_doc``), and the total.

        Exact: see :mod:`searchlib.engine`.
        """
        if not searcher.reader().doc_count_all():
            return [], 0  # nothing committed yet: not even a doc_id column
        return self._engine.rank(searcher, query, document_terms, ranking.document_weight, limit=limit, per_doc=per_doc)

    def _hits(
        self, searcher: Any, ranked: Sequence[tuple[int, float, str]], leaves: Sequence[Any], *, highlight: bool
    ) -> list[Hit]:
        stored = [(docnum, score, searcher.stored_fields(docnum)) for docnum, score, _ in ranked]
        # The title is the document's, stored once on its record.
        records = self._engine.records(searcher, [doc_id for _, _, doc_id in ranked])
        titles = {doc_id: searcher.stored_fields(n).get("title", "") for doc_id, n in records.items()}
        matches = (
            find_matches(
                searcher,
                [docnum for docnum, _, _ in stored],
                leaves,
                texts={docnum: fields["text"] for docnum, _, fields in stored},
                entities={docnum: fields.get("entities", ()) for docnum, _, fields in stored},
                offsets={docnum: fields.get("offsets", b"") for docnum, _, fields in stored},
                positions=lambda terms, docnums: self._engine.positions(searcher, terms, docnums),
            )
            if highlight
            else {}
        )
        hits = []
        for rank, (docnum, score, fields) in enumerate(stored, start=1):
            text = fields["text"]
            spans = tuple(matches.get(docnum, ()))
            mentions = tuple(dict.fromkeys(EntityMention(e[0], e[1]) for e in fields.get("entities", ())))
            hits.append(
                Hit(
                    rank=rank,
                    score=round(float(score or 0.0), 4),
                    doc_id=fields["doc_id"],
                    passage=fields["passage"],
                    title=titles.get(fields["doc_id"], ""),
                    lang=fields.get("lang", ""),
                    text=text,
                    start=fields["start"],
                    end=fields["end"],
                    matches=spans,
                    highlight=html_highlight(text, spans),
                    entities=mentions,
                )
            )
        return hits

    def _vocabulary(self, reader: Any) -> Vocabulary:
        """The reader's vocabulary, kept while the reader lives."""
        found = self._vocabularies.get(reader)
        if found is None:
            found = self._vocabularies[reader] = Vocabulary(reader)
        return found

    def _languages(self, reader: Any) -> list[Language]:
        """The languages of the live passages: a deleted document's terms stay in the lexicon until a merge."""
        codes = [b.decode("utf-8") for b in reader.lexicon("lang")]
        languages = [get_language(code) for code in codes if reader.postings("lang", code).is_active()]
        return languages or [DEFAULT_LANGUAGE]

    def entities(self, *, label: str | None = None, limit: int | None = None) -> list[EntityCount]:
        """Entity facets: each entity with the number of passages that mention it, most frequent first.

        >>> index.entities(label="ORG")[0]                       # doctest: +SKIP
        EntityCount(text='OSCE', label='ORG', passages=4)
        """
        wanted = check_entity_type(label) if label else None
        with self._reading() as searcher:
            reader = searcher.reader()
            counts = []
            for bterm in reader.lexicon("entity_typed"):
                term = bterm.decode("utf-8")
                term_label, _, key = term.partition("\x1f")
                if wanted and term_label != wanted.lower():
                    continue
                docnums = list(searcher.postings("entity_typed", term).all_ids())
                if docnums:
                    counts.append((-len(docnums), key, term_label.upper(), docnums[0]))
            counts.sort()
            if limit is not None:
                counts = counts[:limit]
            facets = []
            for negative, key, term_label, docnum in counts:
                mentions = searcher.stored_fields(docnum).get("entities", ())
                written = next(
                    (m[0] for m in mentions if m[1] == term_label and entity_key(m[0]) == key),
                    key,
                )
                facets.append(EntityCount(text=written, label=term_label, passages=-negative))
        return facets

    def info(self) -> IndexInfo:
        """Counts, languages, size on disk and schema version."""
        with self._reading() as searcher:
            reader = searcher.reader()

            def count(q: wq.Query) -> int:
                return sum(1 for _ in searcher.docs_for_query(q))

            passages = wq.Term("kind", KIND_PASSAGE)
            languages = {
                code: count(wq.And([passages, wq.Term("lang", code)]))
                for code in (b.decode("utf-8") for b in reader.lexicon("lang"))
            }
            info = IndexInfo(
                path=str(self._path),
                documents=count(wq.Term("kind", KIND_DOC)),
                passages=count(passages),
                languages={code: n for code, n in languages.items() if n},
                size_bytes=_folder_size(self._path),
                schema_version=SCHEMA_VERSION,
                searchlib_version=__version__,
            )
        return info

    def documents(self) -> list[DocumentInfo]:
        """Every indexed document, sorted by id.

        >>> [d.lang for d in index.documents()]                  # doctest: +SKIP
        ['fr']
        """
        with self._reading() as searcher:
            records = [searcher.stored_fields(n) for n in searcher.docs_for_query(wq.Term("kind", KIND_DOC))]
        return sorted(
            (
                DocumentInfo(id=r["doc_id"], title=r.get("title", ""), lang=r.get("lang", ""),
                             passages=r.get("passages", 0), words=r.get("words", 0))
                for r in records
            ),
            key=lambda d: d.id,
        )

    def check(self) -> CheckReport:
        """Read the whole index and verify that it is consistent; raise :class:`IndexCorruptError` if not.

        Every stored record is read and every postings list of every field is
        decoded. Each passage must belong to a document record, each document
        record must count exactly its passages (numbered from 0), each
        passage's text must span its offsets, and the ``doc_id`` and ``kind``
        postings must agree with the stored records; :data:`ORIGINS_FILE`, if
        there is one, must be readable. Checking only reads.

        >>> index.check().documents                               # doctest: +SKIP
        1
        """
        _read_origins(self._path / ORIGINS_FILE)
        problems: list[str] = []
        with self._reading() as searcher:
            reader = searcher.reader()
            live = set(reader.all_doc_ids())
            stored: dict[int, dict[str, Any]] = {}
            for docnum in sorted(live):
                try:
                    stored[docnum] = reader.stored_fields(docnum)
                except Exception as exc:  # damaged bytes surface as anything from zlib to pickle
                    problems.append(f"stored record {docnum} cannot be read ({_describe(exc)})")
            kinds, terms = _check_postings(reader, live, stored, problems)
            problems.extend(_check_records(stored, kinds))
            segments = len(reader.leaf_readers()) if reader.doc_count_all() else 0
            generation = reader.generation()
        if problems:
            shown = "; ".join(problems[:5]) + ("; …" if len(problems) > 5 else "")
            raise IndexCorruptError(_corrupt(self._path, f"searchlib check found {_plural(len(problems), 'problem')}: {shown}"))
        return CheckReport(
            documents=len(kinds[KIND_DOC]),
            passages=len(kinds[KIND_PASSAGE]),
            segments=segments,
            terms=terms,
            generation=generation if generation is not None else self._ix.latest_generation(),
        )


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
        start, end = fields.get("start"), fields.get("end")
        if not (isinstance(doc_id, str) and isinstance(number, int) and isinstance(text, str)
                and isinstance(start, int) and isinstance(end, int)):
            problems.append(f"passage record {docnum} lacks its id, number, text or offsets")
        elif end - start != len(text):
            problems.append(f"passage {number} of {doc_id!r} holds {len(text)} characters, not {end - start}")
        else:
            numbers[doc_id].append(number)
    for doc_id in sorted(numbers.keys() - expected.keys()):
        problems.append(f"passages of {doc_id!r} have no document record")
    for doc_id, count in sorted(expected.items()):
        if sorted(numbers.get(doc_id, ())) != list(range(count)):
            held = len(numbers.get(doc_id, ()))
            problems.append(f"document {doc_id!r} should have {_plural(count, 'passage')}, the index holds {held}")
    return problems


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


def _cancel(writer: Any) -> None:
    # A commit that failed has already released its writer; cancelling it
    # again would raise "This writer is closed" and hide the real error.
    if not writer.is_closed:
        writer.cancel()


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


def _batched(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    """Consecutive documents, up to ``size`` of them or :data:`BATCH_CHARS` characters."""
    batch: list[Document] = []
    chars = 0
    for item in items:
        batch.append(item)
        chars += len(item.text)
        if len(batch) >= size or chars >= BATCH_CHARS:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def _merge_similar(writer: Any, segments: list[Any]) -> list[Any]:
    """Whoosh merge policy: merge :data:`MERGE_FACTOR` segments of similar size, if there are so many.

    Whoosh's own policy (``MERGE_SMALL``) lets batches of a million characters
    pile up to twenty segments, then merges them all at once: searches are
    slow until then, and the commit that merges takes minutes. Here a commit
    merges at most one group, of the smallest segments within a factor
    :data:`MERGE_FACTOR` of each other; a large segment is never rewritten
    for the sake of a few small ones.
    """
    ordered = sorted(segments, key=lambda segment: segment.doc_count_all())
    for i in range(len(ordered) - MERGE_FACTOR + 1):
        group = ordered[i : i + MERGE_FACTOR]
        if group[-1].doc_count_all() < MERGE_FACTOR * max(group[0].doc_count_all(), 1):
            for segment in group:
                reader = SegmentReader(writer.storage, writer.schema, segment)
                writer.add_reader(reader)
                reader.close()
            return [segment for segment in segments if segment not in group]
    return segments


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
            tmp = self._file.with_name(ORIGINS_FILE + ".tmp")
            with open(tmp, "w", encoding="utf-8") as out:
                json.dump(data, out, ensure_ascii=False)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self._file)
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


@dataclass(frozen=True)
class _BatchEnd:
    """Marks the end of a batch in the stream of tasks: time to commit."""

    number: int
    #: Documents to remove: indexed before, and now without text.
    stale: tuple[str, ...]


class _AddRun:
    """One call of :meth:`Index.add`: plans the batches, then writes and commits them.

    :meth:`plan` runs ahead of :meth:`write` by the tasks in flight, so a batch
    can be planned before the one before it is committed. What the earlier,
    uncommitted batches will write is in ``_pending``, so that the plan is the
    same as if each batch had been committed before the next was read.
    """

    def __init__(
        self,
        index: Index,
        forced: Language | None,
        batch_size: int,
        wait: float,
        warn: Callable[[str], None],
        on_progress: Callable[[Progress], None] | None,
        started: float,
        total: int | None,
        origins: _Origins,
        sources: SourceSet,
        lock: _FolderLock,
        pipeline: Pipeline,
    ) -> None:
        self._index = index
        self._lock = lock
        self._pipeline = pipeline
        self._origins = origins
        self._sources = sources
        self._chars = 0
        self._skipped_chars = 0
        self._doc_chars = self._doc_start = 0
        self._forced = forced
        self._batch_size = batch_size
        self._wait = wait
        self._warn = warn
        self._on_progress = on_progress
        self._started = started
        self._total = total
        self.counts = {"documents": 0, "passages": 0, "words": 0, "unchanged": 0, "empty": 0, "pruned": 0}
        #: doc id → (batch number, content hash, file) of documents planned but not yet committed.
        self._pending: dict[str, tuple[int, str, str | None]] = {}
        #: (content hash, file, whether an older version is to be deleted, characters) of each planned
        #: document, in order.
        self._planned: deque[tuple[str, str | None, bool, int]] = deque()
        self._digest = ""
        self._source: str | None = None
        self._assembler = Assembler()
        self._writer: Any = None

    # -- planning (reads the index) ----------------------------------------

    def plan(self, documents: Iterable[Document]) -> Iterator[Task | _BatchEnd]:
        for number, batch in enumerate(_batched(documents, self._batch_size)):
            latest = {doc.id: doc for doc in batch}  # a repeated id: the last one wins
            decisions = self._decide(latest.values())
            languages = {lang for doc, _, digest, indexed, lang in decisions if digest and digest != indexed[0]}
            if languages and not self._pipeline.loaded(languages) and not self._pending and self._writer is None:
                # Loading a language model takes seconds: not while holding the lock, which other
                # writers wait for. Nothing is uncommitted, so the lock can go, and come back.
                self._origins.save()
                self._lock.release()
                self._pipeline.load(languages)
                self._lock.acquire(self._wait)
                self._index._clean_leftovers()
                self._origins.reload()
                decisions = self._decide(latest.values())  # another writer may have written meanwhile
            pieces, stale = self._apply(number, decisions)
            yield from tasks_of(pieces)
            yield _BatchEnd(number, tuple(stale))

    def _decide(
        self, documents: Iterable[Document]
    ) -> list[tuple[Document, bool, str | None, tuple[Any, ...], str | None]]:
        """For each document: whether an older version exists, its content hash (``None``: no text),
        the (hash, file) it is indexed with, and its language code (``None``: to detect). Only reads."""
        decisions = []
        with self._index._reading() as searcher:
            reader = searcher.reader()
            for doc in documents:
                pending = self._pending.get(doc.id)  # (batch, hash, path)
                record = None
                if ("doc_id", doc.id) in reader:  # a cheap test first: most documents are new
                    record = searcher.document(kind=KIND_DOC, doc_id=doc.id)
                exists = record is not None or pending is not None
                if pending is not None:
                    indexed: tuple[Any, ...] = pending[1:]
                else:
                    indexed = (record.get("hash"), record.get("path")) if record else (None, None)
                digest = content_hash(doc) if doc.text.strip() else None
                language = self._index._language_of(doc, self._forced)
                decisions.append((doc, exists, digest, indexed, language.code if language else None))
        return decisions

    def _apply(
        self, number: int, decisions: list[tuple[Document, bool, str | None, tuple[Any, ...], str | None]]
    ) -> tuple[list[Piece], list[str]]:
        """Plan batch ``number`` from its decisions: the pieces to analyze, and the documents to remove."""
        pieces: list[Piece] = []
        stale: list[str] = []
        for doc, exists, digest, indexed, lang in decisions:
            if digest is None:
                self.counts["empty"] += 1
                self._skipped_chars += len(doc.text)
                self._warn(f"{doc.id}: skipped, no text")
                if exists:
                    stale.append(doc.id)
                    self._origins.forget([doc.id])
                continue
            if indexed[0] == digest:
                # Unchanged, wherever it was read from: only its origin is recorded.
                self.counts["unchanged"] += 1
                self._skipped_chars += len(doc.text)
                self._origins.read_from(doc.id, digest, indexed[1], doc.path)
                continue
            self._origins.forget([doc.id])
            self._pending[doc.id] = (number, digest, doc.path)
            self._planned.append((digest, doc.path, exists, len(doc.text)))
            pieces.extend(pieces_of(doc, lang))
        return pieces, stale

    # -- writing -----------------------------------------------------------

    def write(self, item: Task | _BatchEnd, results: list[PieceResult] | None) -> None:
        if isinstance(item, _BatchEnd):
            self._commit(item)
            return
        assert results is not None
        writer = self._open()
        for piece, result in zip(item.pieces, results):
            if piece.first:
                self._digest, self._source, exists, self._doc_chars = self._planned.popleft()
                self._doc_start = self._chars
                if exists:
                    writer.delete_by_term("doc_id", piece.document.id)
            for record in self._assembler.records(piece, result, self._digest):
                if record["kind"] == KIND_DOC:
                    record["path"] = self._source
                writer.add_document(**record)
            self.counts["passages"] += len(result.passages)
            self.counts["words"] += result.words
            # Chunks leave out the blank stretches between them: count the whole text.
            self._chars = self._doc_start + self._doc_chars if piece.last else self._chars + len(piece.document.text)
            if piece.last:
                self.counts["documents"] += 1
            self._progress()

    def _commit(self, end: _BatchEnd) -> None:
        # Before the commit that replaces documents: see _Origins.
        self._origins.save(only_if_forgotten=True)
        if end.stale:
            writer = self._open()
            for doc_id in end.stale:
                writer.delete_by_term("doc_id", doc_id)
        if self._writer is not None:
            self._progress(writing=True)
            self._writer.commit(mergetype=_merge_similar)
            self._writer = None
        self._pending = {k: v for k, v in self._pending.items() if v[0] != end.number}
        self._progress()  # documents skipped show too

    def _open(self) -> Any:
        if self._writer is None:
            self._writer = self._index._writer(self._wait)
        return self._writer

    def cancel(self) -> None:
        if self._writer is not None:
            _cancel(self._writer)
            self._writer = None

    def _progress(self, *, writing: bool = False) -> None:
        if self._on_progress is not None:
            c = self.counts
            self._on_progress(
                Progress(
                    c["documents"],
                    c["passages"],
                    c["words"],
                    time.monotonic() - self._started,
                    skipped=c["unchanged"] + c["empty"],
                    total=self._total,
                    chars=self._chars,
                    skipped_chars=self._skipped_chars + self._sources.skipped_chars,
                    total_chars=self._sources.total_chars,
                    writing=writing,
                )
            )
