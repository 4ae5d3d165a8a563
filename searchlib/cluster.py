"""Indexing on a Dask cluster: each batch is analyzed, and written as a Whoosh segment, where the work is done.

:meth:`Index.add(cluster=...) <searchlib.index.Index.add>` plans the batches
here, in the coordinator, exactly as it does without a cluster (what is new,
changed or unchanged, read from the index under its write lock). Each batch
that has text to analyze becomes one Dask task, :func:`write_segment`: the
worker analyzes the batch with its own spaCy pipelines, builds the records
as the coordinator would (:class:`~searchlib.pipeline.Assembler`), writes
them into a scratch index with the index's schema and codec, and sends back
that one segment's files. The coordinator copies them into the index
folder, deletes the documents the batch replaces, and lists the segment in
the batch's commit, in the batches' order; no posting is rewritten.

Dask runs a task at least once (a task whose worker died is run again, even
one that had finished), so each attempt writes in a folder of its own and
only the segment a returned result names is committed: a document is
indexed exactly once. Dask is needed only here: ``pip install
'searchlib[cluster]'``.
"""

from __future__ import annotations

import logging
import pickle
import shutil
import tempfile
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as windex

from .analysis import analyzer_for
from .codec import Codec
from .errors import SearchlibError
from .languages import DEFAULT_LANGUAGE
from .pipeline import Assembler, Task, default_jobs, run_task
from .schema import KIND_DOC, make_schema

#: How long to try to reach a scheduler before saying it is unreachable.
CONNECT_TIMEOUT = "10s"
#: Batches sent ahead per worker: one being analyzed, one waiting, so that no
#: worker waits for the coordinator's commit; each result held here is one
#: segment (a few MB per million characters).
IN_FLIGHT_PER_WORKER = 2
_MISSING = "indexing on a cluster needs Dask: pip install 'searchlib[cluster]'"
PLUGIN_NAME = "searchlib-models"


@dataclass(frozen=True)
class Shipped:
    """What a worker sends back for one batch: its segment, ready to list in a table of contents."""

    #: The pickled Whoosh segment (its id, document count, codec).
    segment: bytes
    #: The segment's files, by name.
    files: dict[str, bytes]
    passages: int
    words: int


def write_segment(tasks: tuple[Task, ...], documents: tuple[tuple[str, str | None], ...]) -> Shipped:
    """Analyze a batch and write it as one segment; runs on a worker.

    ``documents`` gives the content hash and file of each document of the
    batch, in order: its record holds them, as when the coordinator writes.
    """
    root = _worker_directory()
    # A folder per attempt: an attempt that Dask runs again never shares files with this one.
    folder = Path(tempfile.mkdtemp(prefix="searchlib-segment-", dir=root))
    try:
        ix = windex.create_in(str(folder), make_schema())
        from .writer import WRITER_LIMIT_MB  # the writer module imports this one

        writer = ix.writer(limitmb=WRITER_LIMIT_MB, codec=Codec())
        assembler = Assembler()
        origins = iter(documents)
        digest, source = "", None
        passages = words = 0
        for task in tasks:
            for piece, result in zip(task.pieces, run_task(task)):
                if piece.first:
                    digest, source = next(origins)
                for record in assembler.records(piece, result, digest):
                    if record["kind"] == KIND_DOC:
                        record["path"] = source
                    writer.add_document(**record)
                passages += len(result.passages)
                words += result.words
        writer.commit(merge=False)
        (segment,) = windex.TOC.read(ix.storage, ix.indexname).segments
        files = {name: (folder / name).read_bytes() for name in segment.list_files(ix.storage)}
        return Shipped(pickle.dumps(segment), files, passages, words)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _worker_directory() -> str | None:
    try:
        from distributed import get_worker

        return str(get_worker().local_directory)
    except (ImportError, ValueError):  # not on a Dask worker
        return None


def models_plugin() -> Any:
    """A Dask worker plugin that loads the default language's pipeline once per worker, when it starts.

    Made on demand: importing Dask takes a quarter of a second, which a
    search must not pay.
    """
    from distributed import WorkerPlugin

    class ModelsPlugin(WorkerPlugin):  # type: ignore[misc]
        name = PLUGIN_NAME

        def setup(self, worker: Any) -> None:
            analyzer_for(DEFAULT_LANGUAGE)

    return ModelsPlugin()


class Cluster:
    """A connection to a Dask scheduler, or a cluster started here, that :meth:`Index.add` writes with.

    ``address`` is a scheduler's (``tcp://host:8786``), or ``local[:N]``: a
    cluster of N worker processes on this machine (default: one per core).
    """

    #: Seconds the coordinator spent loading models: none, the workers load them.
    model_seconds = 0.0

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise SearchlibError(_MISSING) from None
        self.address = address
        self._local: Any = None
        if address == "local" or address.startswith("local:"):
            workers = _local_workers(address)
            self._local = LocalCluster(n_workers=workers, processes=True, threads_per_worker=1, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=logging.ERROR)
            self._client = Client(self._local)
        else:
            try:
                self._client = Client(address, timeout=CONNECT_TIMEOUT)
            except (OSError, ValueError, TypeError) as exc:
                raise SearchlibError(
                    f"cannot reach the Dask scheduler at {address} ({_first_line(exc)}); "
                    "start one with `dask scheduler`, or use --cluster local"
                ) from None
        try:
            self._client.register_plugin(models_plugin(), name=PLUGIN_NAME)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()
        if self._local is not None:
            self._local.close()

    # The planning of :class:`~searchlib.writer._AddRun` asks a pipeline whether
    # it must load models first; the workers load their own.
    def loaded(self, langs: Iterable[str | None]) -> bool:
        return True

    def load(self, langs: Iterable[str | None]) -> None:
        pass

    def workers(self) -> int:
        return max(1, len(self._client.scheduler_info().get("workers", {})))

    def run(self, batches: Iterable[Any]) -> Iterator[tuple[Any, Shipped | None]]:
        """Each batch (a :class:`~searchlib.writer._Batch`), in order, with what its task sent back.

        A few batches per worker are in flight: the input is read only as
        far ahead as that, whatever the corpus's size.
        """
        run_id = uuid.uuid4().hex
        window: deque[tuple[Any, Any]] = deque()
        for number, batch in enumerate(batches):
            future = None
            if batch.tasks:
                origins = tuple((digest, source) for digest, source, _, _ in batch.documents)
                future = self._client.submit(write_segment, batch.tasks, origins, key=f"searchlib-{run_id}-{number}",
                                             pure=False)
            window.append((batch, future))
            while len(window) > IN_FLIGHT_PER_WORKER * self.workers() or (window and _done(window[0][1])):
                yield self._result(*window.popleft())
        while window:
            yield self._result(*window.popleft())

    def _result(self, batch: Any, future: Any) -> tuple[Any, Shipped | None]:
        from distributed import KilledWorker

        if future is None:
            return batch, None
        try:
            return batch, future.result()
        except KilledWorker:
            raise SearchlibError(
                "a batch's task killed the Dask workers that ran it, again and again (out of memory?); "
                "nothing of it was written. Retry with a smaller --batch-size"
            ) from None
        finally:
            future.release()


def _done(future: Any) -> bool:
    return future is None or future.done()


def _local_workers(address: str) -> int:
    _, _, count = address.partition(":")
    if not count:
        return default_jobs()
    if not count.isdigit() or int(count) < 1:
        raise SearchlibError(f"--cluster local:N needs a number of workers of 1 or more, not {count!r}")
    return int(count)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
