"""Stage 7: the public API, :class:`Index`, that reads and writes the on-disk index.

>>> index = open_index("index", create=True)                  # doctest: +SKIP
>>> index.add(["corpus"])                                     # doctest: +SKIP
>>> index.search("victimes de la traite", limit=3).hits[0].highlight  # doctest: +SKIP

:class:`Index` is the facade; what it stands on has a module each:
:mod:`~searchlib.results` (what it returns), :mod:`~searchlib.store` (the
folder, its lock, opening and checking), :mod:`~searchlib.writer` (a run of
:meth:`Index.add`) and :mod:`~searchlib.engine` (ranking).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh import query as wq
from whoosh.searching import Searcher

from . import __version__
from .cluster import Cluster
from .codec import Codec
from .engine import Engine
from .errors import IndexCorruptError, IndexLockedError, IndexNotFoundError, NotAnIndexError, SearchlibError
from .highlight import find_matches, html_highlight
from .languages import DEFAULT_LANGUAGE, Language, get_language
from .pipeline import Pipeline, default_jobs
from .query import EntityLeaf, QueryCompiler, Vocabulary, check_entity_type
from .ranking import DEFAULT, Ranking
from .results import (
    AddReport,
    CheckReport,
    DocumentInfo,
    EntityCount,
    EntityMention,
    Hit,
    IndexInfo,
    Progress,
    SearchResults,
)
from .schema import (
    KIND_DOC,
    KIND_PASSAGE,
    SCHEMA_VERSION,
    entity_key,
    entity_mentions,
    entity_typed_key,
    make_schema,
    passage_language,
    stored_record,
)
from .sources import MAX_DOCUMENT_CHARS, Document, Source, SourceSet, given_id, path_id
from .store import (
    _DAMAGE,
    _FORMAT,
    DEFAULT_WAIT,
    META_FILE,
    ORIGINS_FILE,
    _check_creatable,
    _check_meta,
    _check_postings,
    _check_records,
    _corrupt,
    _describe,
    _folder_size,
    _FolderLock,
    _is_empty_dir,
    _now,
    _open_whoosh,
    _Origins,
    _plural,
    _read_origins,
    _ReaderPool,
    created_durably,
    default_index_path,
    durable,
    index_exists,
)
from .whoosh_fixes import AndNot, Require
from .writer import BATCH_DOCUMENTS, WRITER_LIMIT_MB, _AddRun, _cancel, _merge_all


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
            created_durably(path, meta)
        except OSError as exc:
            raise SearchlibError(f"cannot create an index in {path}: {exc.strerror or exc}") from None
    finally:
        lock.close()
    return Index(path, windex.open_dir(str(path)))


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
        cluster: str | None = None,
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
        the index is the same whatever their number. With ``cluster``, a Dask
        scheduler's address (``tcp://host:8786``) or ``local[:N]`` (N worker
        processes here), the cluster's workers analyze each batch and write it
        as a segment, which joins the index as it is (see
        :mod:`searchlib.cluster`); the index answers every search as it would
        without. A document longer than
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
        if cluster is not None and jobs is not None:
            raise SearchlibError("give jobs or cluster, not both: a cluster's workers do the analysis")
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
            with contextlib.ExitStack() as stack:
                # A cluster is reached before the lock is taken: its workers take seconds to load their models.
                remote = stack.enter_context(Cluster(cluster)) if cluster is not None else None
                lock = stack.enter_context(self._write_lock(wait))
                # Worker processes start after the lock is taken: they must know its descriptor, to close it.
                pipeline = remote or stack.enter_context(Pipeline(jobs=jobs, close_fds=self._lock_fds))
                origins = _Origins(self._path)
                run = _AddRun(self, forced, batch_size, wait, warn, on_progress, started, expected, origins, source_set,
                              lock, pipeline)
                try:
                    if isinstance(pipeline, Cluster):
                        for batch, shipped in pipeline.run(run.batches(source_set.documents())):
                            run.ship(batch, shipped)
                    else:
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
            records = _document_records(searcher)
            ids = [f["doc_id"] for f in records if gone(f["doc_id"], origins.path_of(f["doc_id"], f.get("hash"), f.get("path")))]
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
                # Whoosh's optimize, with the exact field lengths of the fixed merge.
                writer.commit(mergetype=_merge_all)
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
            # Every commit of searchlib's is made by a writer from here: each one is durable.
            writer = durable(self._ix.writer(timeout=wait, limitmb=WRITER_LIMIT_MB, codec=Codec()))
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
        # Half-written tables of contents, and segment files shipped by a cluster's worker, half copied.
        half_written = re.compile(rf"_{re.escape(name)}_\d+\.toc\.[0-9.]+|\.{re.escape(name)}_\w+\.seg\.\d+\.tmp")
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
        stored = [(docnum, score, {**searcher.stored_fields(docnum), "doc_id": doc_id}) for docnum, score, doc_id in ranked]
        # The title is the document's, stored once on its record.
        records = self._engine.records(searcher, [doc_id for _, _, doc_id in ranked])
        documents = {doc_id: searcher.stored_fields(n) for doc_id, n in records.items()}
        matches = (
            find_matches(
                searcher,
                [docnum for docnum, _, _ in stored],
                leaves,
                texts={docnum: fields["text"] for docnum, _, fields in stored},
                entities={docnum: entity_mentions(fields) for docnum, _, fields in stored},
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
            record = documents.get(fields["doc_id"], {})
            mentions = tuple(dict.fromkeys(EntityMention(e[0], e[1]) for e in entity_mentions(fields)))
            hits.append(
                Hit(
                    rank=rank,
                    score=round(float(score or 0.0), 4),
                    doc_id=fields["doc_id"],
                    passage=fields["passage"],
                    title=record.get("title", ""),
                    lang=passage_language(fields, record),
                    text=text,
                    start=fields["start"],
                    end=fields["start"] + len(text),
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
        """The languages of the live passages (looked up once per reader)."""
        languages = [get_language(code) for code in self._vocabulary(reader).live("lang")]
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
                mentions = entity_mentions(searcher.stored_fields(docnum))
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
            records = _document_records(searcher)
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
            doc_ids = reader.column_reader("doc_id") if live else None
            for docnum in sorted(live):
                try:
                    stored[docnum] = stored_record(reader, docnum, doc_ids)
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


def _document_records(searcher: Any) -> list[dict[str, Any]]:
    """The stored fields of every live document record, each with its ``doc_id``."""
    reader = searcher.reader()
    doc_ids = reader.column_reader("doc_id") if reader.doc_count_all() else None
    return [stored_record(reader, n, doc_ids) for n in searcher.docs_for_query(wq.Term("kind", KIND_DOC))]
