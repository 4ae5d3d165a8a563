"""Indexing at the speed of spaCy: analysis in worker processes, writing in this one.

:meth:`searchlib.index.Index.add` decides which documents need analysis; this
module turns them into Whoosh records, in order.

* **Tasks.** Documents are grouped into tasks of about :data:`TASK_CHARS`
  characters of one language. A worker analyzes a task with one call of
  :func:`~searchlib.analysis.analyze` and builds its records with
  :func:`~searchlib.schema.document_records`, so the parent only adds records
  and commits. A task goes in and comes back as plain picklable data, never as
  spaCy ``Doc`` objects. Tasks are cut the same way whatever the number of
  jobs, so the index is the same with any ``jobs``.
* **Chunks.** A document longer than :data:`CHUNK_CHARS` is cut into chunks,
  at blank lines where it has them, and each chunk is analyzed as a piece of
  its own. Here the pieces are put back together: passage numbers and offsets
  are shifted, every passage gets the title fields of the first chunk, and the
  document record, written last, gets the totals. Memory thus stays bounded
  whatever the size of a document. A passage never crosses a blank line, so
  cuts at blank lines change nothing; only a paragraph longer than a chunk is
  cut inside, at a sentence end or a space, and there a passage ends at the cut.
* **Order.** Results come back in the order the tasks were made; at most
  :data:`IN_FLIGHT_PER_JOB` tasks' worth of characters per worker are in
  flight at once, so that workers go on while this process commits.
* **Small inputs.** Until there is more than one task of work, it is analyzed
  in this process: starting workers for a single note costs more than it saves.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Any

from .analysis import analyze, analyzer_for, last_break
from .errors import SearchlibError
from .languages import DEFAULT_LANGUAGE, get_language
from .schema import document_records, stored_language
from .sources import Document

#: Characters analyzed per task. Small enough to balance the load between
#: workers and to bound spaCy's working memory (about 4 kB per character of a
#: batch in flight); large enough that shipping a task costs next to nothing.
TASK_CHARS = 40_000
#: A document longer than this is analyzed in chunks of about this size: one
#: task each, so that a worker's memory is bounded as for any task, and a long
#: document's progress shows every few seconds. (bench/long_document.py, one
#: line of 1,000,000 characters, --jobs 2: the process tree peaked at 2,242 MB
#: resident with chunks of 200,000 characters, 1,399 MB with 40,000.)
CHUNK_CHARS = TASK_CHARS
#: Work in flight per worker, in tasks of :data:`TASK_CHARS`. While this
#: process commits a batch (seconds) or merges segments (a minute), the workers
#: go on analyzing; their results wait here, about 60 bytes per character
#: (2.5 MB per task). Counted in characters, since a chunk of a long document
#: is five tasks' worth.
IN_FLIGHT_PER_JOB = 8
#: A longer title is cut: it is stored, and indexed, on every passage.
MAX_TITLE_CHARS = 200

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
#: Languages whose analyzer this process has loaded (analyzer_for keeps them); workers fork with them.
_LOADED: set[str] = set()


def default_jobs() -> int:
    """The number of cores this process may use: the default for ``jobs``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Piece:
    """A document, or one chunk of a long one, to analyze."""

    #: The text of this piece only; the title is on the first piece only.
    document: Document
    #: Language code; ``None``: detect it (each chunk of a long document on its own).
    lang: str | None
    #: Where this piece starts in the document's text.
    offset: int
    first: bool
    last: bool


@dataclass(frozen=True, slots=True)
class PieceResult:
    """What a worker sends back for one piece: Whoosh records, ready to add."""

    passages: list[dict[str, Any]]
    record: dict[str, Any]
    words: int


@dataclass(frozen=True, slots=True)
class Task:
    """Pieces given the same language (or none), analyzed together by one worker."""

    pieces: tuple[Piece, ...]


def cap_title(title: str) -> str:
    """A title cut to :data:`MAX_TITLE_CHARS` at a space, with an ellipsis.

    The first line of a text file is its title, and a file with no line break
    would otherwise store its whole text, and index all its words, again on
    every one of its passages.
    """
    if len(title) <= MAX_TITLE_CHARS:
        return title
    cut = title.rfind(" ", 0, MAX_TITLE_CHARS)
    if cut < MAX_TITLE_CHARS // 2:
        cut = MAX_TITLE_CHARS
    return title[:cut].rstrip() + "…"


def pieces_of(document: Document, lang: str | None, *, chunk_chars: int | None = None) -> list[Piece]:
    """Cut ``document`` into pieces of about ``chunk_chars`` (default :data:`CHUNK_CHARS`) characters."""
    chunk_chars = chunk_chars or CHUNK_CHARS
    document = replace(document, title=cap_title(document.title))
    text = document.text
    if len(text) <= chunk_chars:
        return [Piece(document, lang, 0, True, True)]
    cuts = [0]
    while len(text) - cuts[-1] > chunk_chars:
        cuts.append(_cut(text, cuts[-1], chunk_chars))
    cuts.append(len(text))
    spans = [(a, b) for a, b in zip(cuts, cuts[1:]) if text[a:b].strip()]
    pieces = []
    for i, (start, end) in enumerate(spans):
        title = document.title if i == 0 else ""
        piece = Document(id=document.id, text=text[start:end], title=title, lang=document.lang)
        pieces.append(Piece(piece, lang, start, i == 0, i == len(spans) - 1))
    return pieces


def _cut(text: str, start: int, size: int) -> int:
    """Where the chunk that starts at ``start`` ends: at a blank line if there is one in its second half."""
    low, high = start + size // 2, start + size
    best = None
    for match in _PARAGRAPH_BREAK.finditer(text, low, high):
        best = match.end()
    if best is not None and best < len(text):
        return best
    # A paragraph longer than half a chunk: cut at a sentence end, else a space,
    # as analysis cuts an over-long unit.
    cut = last_break(text[low:high])
    return low + cut + 1 if cut >= 0 else high


def tasks_of(pieces: Iterable[Piece], *, task_chars: int | None = None) -> Iterator[Task]:
    """Group pieces, in order, into tasks of one language and about ``task_chars`` (default :data:`TASK_CHARS`) characters."""
    task_chars = task_chars or TASK_CHARS
    current: list[Piece] = []
    size = 0
    for piece in pieces:
        if current and (size + len(piece.document.text) > task_chars or piece.lang != current[0].lang):
            yield Task(tuple(current))
            current, size = [], 0
        current.append(piece)
        size += len(piece.document.text)
    if current:
        yield Task(tuple(current))


def run_task(task: Task) -> list[PieceResult]:
    """Analyze a task and build its records. Runs in a worker, or here with one job."""
    lang = task.pieces[0].lang
    language = get_language(lang) if lang else None
    # analyze() gives documents back grouped by language, and two chunks of a
    # document share its id: number the pieces to put them back in order.
    numbered = ((replace(piece.document, id=str(i)), language) for i, piece in enumerate(task.pieces))
    results: list[PieceResult | None] = [None] * len(task.pieces)
    for analyzed in analyze(numbered):
        i = int(analyzed.id)
        doc_id = task.pieces[i].document.id
        *passages, record = document_records(replace(analyzed, id=doc_id))
        results[i] = PieceResult(passages, record, analyzed.words)
    missing = [task.pieces[i].document.id for i, r in enumerate(results) if r is None]
    if missing:  # analyze() skips nothing: a bug if it did
        raise RuntimeError(f"analysis returned nothing for {missing}")
    return results  # type: ignore[return-value]


class Assembler:
    """Puts the pieces of each document back together, in the parent process.

    A document in one piece passes through untouched. The pieces of a long
    document get consecutive passage numbers and offsets into the whole text;
    its record comes last: the first piece's (whose language is the
    document's, with the title), with the totals, word counts, lexicon and
    written forms of all pieces.
    """

    def __init__(self) -> None:
        self._passages = 0
        self._words = 0
        self._record: dict[str, Any] = {}

    def records(self, piece: Piece, result: PieceResult, content_hash: str) -> Iterator[dict[str, Any]]:
        """The records to add for ``piece``; the document record after its last piece."""
        if piece.first:
            self._passages = self._words = 0
            self._record = {name: _copy(value) for name, value in result.record.items()}
        else:
            _merge_record(self._record, result.record)
        for passage in result.passages:
            if not piece.first:
                passage["passage"] += self._passages
                passage["start"] += piece.offset
                passage["lead"] = None
                # The document's language is the first piece's.
                passage.pop("language", None)
                passage.update(stored_language(passage["lang"], self._record["language"]))
            yield passage
        self._passages += len(result.passages)
        self._words += result.words
        if piece.last:
            yield {**self._record, "hash": content_hash, "passages": self._passages, "words": self._words}


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else set(value) if isinstance(value, set) else value


def _merge_record(record: dict[str, Any], later: dict[str, Any]) -> None:
    """Add a later piece's per-language words (``dfold_``, ``lex_``) to the first piece's record."""
    for name, value in later.items():
        if name.startswith(("dfold_", "lex_")):
            if isinstance(value, set):
                record.setdefault(name, set()).update(value)
            else:
                record.setdefault(name, []).extend(value)
            if name.startswith("dfold_") and value and name not in record["fields"]:
                record["fields"].append(name)


class Pipeline:
    """Runs tasks in order, here or in ``jobs`` worker processes.

    >>> with Pipeline(jobs=2) as pipeline:                     # doctest: +SKIP
    ...     for item, results in pipeline.run(items):
    ...         ...

    ``run`` takes tasks mixed with any other objects (markers, such as the end
    of a batch) and gives each back in order, paired with its results: a
    task's list of :class:`PieceResult`, ``None`` for anything else.
    """

    def __init__(self, *, jobs: int, close_fds: Sequence[int] = ()) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, not {jobs}")
        self.jobs = jobs
        self._close_fds = tuple(close_fds)
        self._executor: ProcessPoolExecutor | None = None
        #: Seconds spent here loading language models before analysis.
        self.model_seconds = 0.0

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def run(self, items: Iterable[Any]) -> Iterator[tuple[Any, list[PieceResult] | None]]:
        window: deque[list[Any]] = deque()  # [item, outcome], in order
        held: list[Any] | None = None  # the first task, until a second one shows workers pay off
        decided = self.jobs == 1
        for item in items:
            entry = [item, None]
            if isinstance(item, Task):
                if not decided and held is None:
                    held = entry
                else:
                    if held is not None:
                        held[1], held = self._submit(held[0]), None
                    decided = True
                    entry[1] = self._submit(item) if self.jobs > 1 else self._run_here(item)
            window.append(entry)
            yield from self._ready(window, held, limit=self.jobs * IN_FLIGHT_PER_JOB * TASK_CHARS)
        if held is not None:
            held[1] = self._run_here(held[0])
        yield from self._ready(window, None, limit=0)

    def _ready(
        self, window: deque[list[Any]], held: list[Any] | None, *, limit: int
    ) -> Iterator[tuple[Any, list[PieceResult] | None]]:
        """Give back the finished head of the window; wait only when more than ``limit`` characters are in flight."""
        while window and window[0] is not held:
            item, outcome = window[0]
            if isinstance(outcome, Future):
                in_flight = sum(_chars(task) for task, o in window if isinstance(o, Future))
                if in_flight <= limit and not outcome.done():
                    return
                try:
                    outcome = outcome.result()
                except BrokenProcessPool:
                    raise SearchlibError(
                        "an analysis worker process died (out of memory?); nothing of the batch in flight "
                        "was written. Retry with fewer --jobs"
                    ) from None
            window.popleft()
            yield item, outcome

    def _run_here(self, task: Task) -> list[PieceResult]:
        self._load(task.pieces[0].lang)
        return run_task(task)

    def _submit(self, task: Task) -> Future[list[PieceResult]]:
        if self._executor is None:
            # Load the model before the workers fork, so that they share its
            # memory, and so that its loading time is measured once, here.
            self._load(task.pieces[0].lang)
            self._executor = _executor(self.jobs, self._close_fds)
        return self._executor.submit(run_task, task)

    def loaded(self, langs: Iterable[str | None]) -> bool:
        """Whether the models of these languages (``None``: to detect) are loaded here."""
        return all(self._code(lang) in _LOADED for lang in langs)

    def load(self, langs: Iterable[str | None]) -> None:
        """Load the models of these languages here, before any task needs them."""
        for lang in langs:
            self._load(lang)

    def _load(self, lang: str | None) -> None:
        code = self._code(lang)
        if code in _LOADED:
            return
        started = time.monotonic()
        analyzer_for(get_language(code))
        self.model_seconds += time.monotonic() - started
        _LOADED.add(code)

    @staticmethod
    def _code(lang: str | None) -> str:
        # A language to detect is most likely the default one.
        return get_language(lang).code if lang else DEFAULT_LANGUAGE.code


def _chars(task: Task) -> int:
    return sum(len(piece.document.text) for piece in task.pieces)


def _executor(jobs: int, close_fds: tuple[int, ...]) -> ProcessPoolExecutor:
    import multiprocessing

    # fork shares the loaded model with the workers, copy-on-write; where
    # fork is unavailable, each worker loads its own.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context(method),
        initializer=_worker_init,
        initargs=(os.getpid(), close_fds),
    )


def _worker_init(parent: int, close_fds: tuple[int, ...]) -> None:
    # The parent holds the index's write lock through an inherited descriptor:
    # close it here, or a worker outliving a killed parent would hold the lock.
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    # Ctrl-C is the parent's to handle: it stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """Exit when the parent dies, even by SIGKILL: nothing else would tell a worker."""
    while os.getppid() == parent:
        time.sleep(0.5)
    sys.stderr.flush()
    os._exit(1)
