"""Writing a run of documents: the batches of :meth:`Index.add <searchlib.index.Index.add>`, and how they are committed.

:class:`_AddRun` plans each batch (what is new, changed, unchanged or empty),
writes what the worker processes analyzed, and commits; it is apart from the
:class:`~searchlib.index.Index` facade because it is the one part of a write
that keeps state from one batch to the next.
"""

from __future__ import annotations

import os
import pickle
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whoosh.reading import SegmentReader

from .analysis import content_hash
from .errors import SearchlibError
from .languages import Language
from .pipeline import Assembler, Piece, PieceResult, Pipeline, Task, pieces_of, tasks_of
from .results import Progress
from .schema import KIND_DOC
from .sources import Document, SourceSet
from .store import _FolderLock, _Origins
from .whoosh_fixes import add_reader

if TYPE_CHECKING:  # the index imports this module to write
    from .cluster import Cluster, Shipped
    from .index import Index

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


def _cancel(writer: Any) -> None:
    # A commit that failed has already released its writer; cancelling it
    # again would raise "This writer is closed" and hide the real error.
    if not writer.is_closed:
        writer.cancel()


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
    group = _similar(segments)
    merge_segments(writer, group)
    return [segment for segment in segments if segment not in group]


def _similar(segments: list[Any]) -> list[Any]:
    """The group :func:`_merge_similar` merges: none, or the smallest :data:`MERGE_FACTOR` segments of similar size."""
    ordered = sorted(segments, key=lambda segment: segment.doc_count_all())
    for i in range(len(ordered) - MERGE_FACTOR + 1):
        group = ordered[i : i + MERGE_FACTOR]
        if group[-1].doc_count_all() < MERGE_FACTOR * max(group[0].doc_count_all(), 1):
            return group
    return []


def _with_shipped(shipped: Any) -> Callable[[Any, list[Any]], list[Any]]:
    """The merge policy of a commit that adds a segment written by a cluster's worker.

    The index must come out as it would have without a cluster, where the
    batch is written by the commit's own writer: so the shipped segment joins
    the index as it is when nothing is merged, and is merged first, into the
    commit's new segment, when a group is.
    """

    def policy(writer: Any, segments: list[Any]) -> list[Any]:
        group = _similar(segments)
        if not group:
            return [*segments, shipped]
        merge_segments(writer, [shipped, *group])
        return [segment for segment in segments if segment not in group]

    return policy


def _merge_all(writer: Any, segments: list[Any]) -> list[Any]:
    """Whoosh's ``OPTIMIZE`` policy, merging with exact field lengths: every segment into one."""
    merge_segments(writer, segments)
    return []


def merge_segments(writer: Any, segments: list[Any]) -> None:
    """Add these segments' documents to ``writer``'s new segment, with their exact field lengths."""
    for segment in segments:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        add_reader(writer, reader)
        reader.close()


@dataclass(frozen=True)
class _BatchEnd:
    """Marks the end of a batch in the stream of tasks: time to commit."""

    number: int
    #: Documents to remove: indexed before, and now without text.
    stale: tuple[str, ...]


@dataclass(frozen=True)
class _Batch:
    """A batch whole, for a cluster: its tasks, and what the plan decided for each of its documents."""

    end: _BatchEnd
    tasks: tuple[Task, ...]
    #: (content hash, file, whether an older version is to be deleted, characters) of each document, in order.
    documents: tuple[tuple[str, str | None, bool, int], ...]


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
        pipeline: Pipeline | Cluster,
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

    def batches(self, documents: Iterable[Document]) -> Iterator[_Batch]:
        """The plan, a batch at a time: what a cluster's worker analyzes and writes as one segment."""
        tasks: list[Task] = []
        for item in self.plan(documents):
            if isinstance(item, Task):
                tasks.append(item)
                continue
            firsts = sum(piece.first for task in tasks for piece in task.pieces)
            yield _Batch(item, tuple(tasks), tuple(self._planned.popleft() for _ in range(firsts)))
            tasks = []

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

    def ship(self, batch: _Batch, shipped: Shipped | None) -> None:
        """Commit a batch that a cluster's worker wrote as a segment: its files join the index as they are."""
        if shipped is None:  # nothing to analyze: unchanged or empty documents only
            self._commit(batch.end)
            return
        writer = self._open()
        ids = [piece.document.id for task in batch.tasks for piece in task.pieces if piece.first]
        for doc_id, (_, _, exists, chars) in zip(ids, batch.documents, strict=True):
            if exists:
                writer.delete_by_term("doc_id", doc_id)
            self._chars += chars
        segment = pickle.loads(shipped.segment)
        if segment.segment_id() in {s.segment_id() for s in writer.segments}:
            # Ids are 16 characters from the system's random source: a clash means a broken worker.
            raise SearchlibError(f"a worker sent a segment whose id is already in the index ({segment.segment_id()}); "
                                 "nothing of its batch was written. Check the workers' searchlib version, then retry")
        folder = Path(writer.storage.folder)
        for name, data in shipped.files.items():
            # Under a name Whoosh never lists until complete: a commit deletes the
            # index's files its table of contents does not name.
            temporary = folder / f".{name}.{os.getpid()}.tmp"
            temporary.write_bytes(data)
            os.replace(temporary, folder / name)
        self.counts["documents"] += len(ids)
        self.counts["passages"] += shipped.passages
        self.counts["words"] += shipped.words
        self._commit(batch.end, segment)

    def _commit(self, end: _BatchEnd, shipped: Any = None) -> None:
        # Before the commit that replaces documents: see _Origins.
        self._origins.save(only_if_forgotten=True)
        if end.stale:
            writer = self._open()
            for doc_id in end.stale:
                writer.delete_by_term("doc_id", doc_id)
        if self._writer is not None:
            self._progress(writing=True)
            self._writer.commit(mergetype=_merge_similar if shipped is None else _with_shipped(shipped))
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
