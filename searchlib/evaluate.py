"""Retrieval quality on judged data: index a BEIR-style folder, run its queries, score the ranking.

A dataset folder holds ``corpus.jsonl`` (``{"id", "title", "text", "lang"}``),
``queries.jsonl`` (``{"id", "text", "lang"}``) and ``qrels.tsv`` (a header
line, then ``query_id <TAB> doc_id <TAB> relevance``). Documents are ranked by
their best passage. The metrics come from ``ir-measures`` (trec_eval's own
code), not from formulas of ours.

>>> report = evaluate("../shared/data/piaf", sample=200)   # doctest: +SKIP
>>> report.metrics["ndcg@10"]                              # doctest: +SKIP
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, QuerySyntaxError, SearchlibError
from .index import Index, open_index
from .languages import get_language
from .ranking import Ranking
from .sources import Document, parse_jsonl_line
from .store import index_exists

#: Reported metrics: our name → ir-measures name.
METRICS = {"ndcg@10": "nDCG@10", "mrr@10": "RR@10", "recall@100": "R@100"}
#: Documents retrieved per query: enough for Recall@100.
DEPTH = 100
SAMPLE_SEED = 13
#: Seed of :meth:`Dataset.split`: fixed, so every run tunes and tests on the same halves.
SPLIT_SEED = 2026


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    lang: str | None


@dataclass(frozen=True)
class Dataset:
    """A judged retrieval data set, loaded from a folder."""

    path: Path
    queries: tuple[Query, ...]
    #: query id → {doc id: relevance}
    qrels: dict[str, dict[str, int]]
    #: doc id → language code given by the corpus ("" when absent)
    doc_langs: dict[str, str]
    #: Name of the subset ("" for the whole data set).
    part: str = ""

    def documents(self) -> Iterator[Document]:
        """The corpus (only this subset's documents), streamed from disk."""
        for doc in _read_jsonl(self.path / "corpus.jsonl", parse_jsonl_line):
            if doc.id in self.doc_langs:
                yield doc

    def split(self, *, seed: int = SPLIT_SEED, group: Callable[[Document], str] | None = None) -> tuple[Dataset, Dataset]:
        """Two halves, ``tune`` and ``test``, dividing the documents by ``group`` (by default their title).

        On PIAF a title is a Wikipedia article, so no article has paragraphs on
        both sides: tuning cannot learn an article's vocabulary and be tested
        on it. Corpora whose titles do not name the unit that must not be cut
        (NTREX: an article and its translations) give their own ``group``.
        Groups are sorted, shuffled with ``seed``, and cut in half; each query
        follows its relevant documents (a query judged on both sides is
        dropped).
        """
        key = group or (lambda doc: doc.title)
        groups = sorted({key(doc) for doc in self.documents()})
        random.Random(seed).shuffle(groups)
        tune_groups = set(groups[: len(groups) // 2])
        halves: dict[str, set[str]] = {"tune": set(), "test": set()}
        for doc in self.documents():
            halves["tune" if key(doc) in tune_groups else "test"].add(doc.id)
        return tuple(self._subset(name, ids) for name, ids in halves.items())  # type: ignore[return-value]

    def _subset(self, name: str, ids: set[str]) -> Dataset:
        qrels = {
            qid: judged
            for qid, judged in self.qrels.items()
            if all(doc in ids for doc in judged) and any(doc in ids for doc in judged)
        }
        queries = tuple(q for q in self.queries if q.id in qrels)
        doc_langs = {d: lang for d, lang in self.doc_langs.items() if d in ids}
        return Dataset(path=self.path, queries=queries, qrels=qrels, doc_langs=doc_langs, part=name)


@dataclass(frozen=True)
class EvalReport:
    """Metrics over a run, overall and per query language."""

    dataset: str
    index: str
    queries: int
    documents: int
    metrics: dict[str, float]
    per_language: dict[str, dict[str, float]]
    seconds_indexing: float
    seconds_querying: float
    #: (query id, [(doc id, score), ...]) in rank order, for TREC run files.
    run: dict[str, list[tuple[str, float]]] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "index": self.index,
            "queries": self.queries,
            "documents": self.documents,
            "metrics": self.metrics,
            "per_language": self.per_language,
            "seconds_indexing": round(self.seconds_indexing, 2),
            "seconds_querying": round(self.seconds_querying, 2),
        }


@dataclass(frozen=True)
class EvalProgress:
    """Sent to ``on_progress``: which phase, how far, out of how many (0 if unknown)."""

    phase: str
    done: int
    total: int


def load_dataset(path: str | Path) -> Dataset:
    """Read a BEIR-style folder; a missing file or a malformed line raises :class:`InputError`."""
    path = Path(path)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        if not (path / name).is_file():
            raise InputError(f"{path} is not an evaluation folder: {name} is missing (it needs corpus.jsonl, queries.jsonl and qrels.tsv)")
    queries = tuple(_read_jsonl(path / "queries.jsonl", _parse_query))
    qrels = _read_qrels(path / "qrels.tsv")
    doc_langs = {doc.id: doc.lang or "" for doc in _read_jsonl(path / "corpus.jsonl", parse_jsonl_line)}
    return Dataset(path=path, queries=queries, qrels=qrels, doc_langs=doc_langs)


def evaluate(
    dataset: str | Path | Dataset,
    *,
    index_path: str | Path | None = None,
    sample: int | None = None,
    lang: str | None = None,
    detect: bool = False,
    ranking: Ranking | None = None,
    on_progress: Callable[[EvalProgress], None] | None = None,
) -> EvalReport:
    """Index ``dataset`` (into ``index_path``, reused if built, else a temporary index) and score its queries.

    ``sample`` evaluates that many queries, drawn with a fixed seed. ``lang``
    keeps only queries and documents of that language (a monolingual run).
    ``detect`` ignores the corpus ``lang`` field and lets searchlib detect it.
    """
    _measures()  # before any indexing: a missing extra is said at once, not after minutes
    data = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    queries = [q for q in data.queries if q.id in data.qrels]
    if lang is not None:
        code = get_language(lang).code
        queries = [q for q in queries if q.lang and get_language(q.lang).code == code]
    if sample is not None and sample < len(queries):
        queries = random.Random(SAMPLE_SEED).sample(queries, sample)
    if not queries:
        raise SearchlibError(f"no judged queries to evaluate in {data.path}" + (f" for language {lang!r}" if lang else ""))

    temporary = index_path is None
    path = Path(tempfile.mkdtemp(prefix="searchlib-eval-")) / "index" if temporary else Path(index_path)
    try:
        index = open_index(path, create=not index_exists(path))
        started = time.monotonic()
        _index_corpus(index, data, detect=detect, on_progress=on_progress)
        indexed = time.monotonic() - started
        started = time.monotonic()
        run = _run(index, queries, lang=lang, ranking=ranking, on_progress=on_progress)
        queried = time.monotonic() - started
        documents = index.info().documents
    finally:
        if temporary:
            shutil.rmtree(path.parent, ignore_errors=True)

    qrels = _restrict(data, queries, lang)
    queries = [q for q in queries if q.id in qrels]
    metrics = score(qrels, run)
    by_lang: dict[str, list[Query]] = {}
    for q in queries:
        by_lang.setdefault(q.lang or "", []).append(q)
    per_language = {
        code: score({q.id: qrels[q.id] for q in group}, {q.id: run.get(q.id, []) for q in group})
        for code, group in sorted(by_lang.items())
        if code
    }
    return EvalReport(
        dataset=str(data.path) + (f" ({data.part} half)" if data.part else ""),
        index="(temporary)" if temporary else str(path),
        queries=len(queries),
        documents=documents,
        metrics=metrics,
        per_language=per_language,
        seconds_indexing=indexed,
        seconds_querying=queried,
        run=run,
    )


def score(qrels: dict[str, dict[str, int]], run: dict[str, list[tuple[str, float]]]) -> dict[str, float]:
    """nDCG@10, MRR@10 and Recall@100, averaged over the queries of ``qrels``.

    A query with no retrieved document counts as zero, as in trec_eval with ``-c``.
    """
    ir_measures = _measures()
    measures = [ir_measures.parse_measure(name) for name in METRICS.values()]
    ranked = {qid: {doc: float(len(docs) - i) for i, (doc, _) in enumerate(docs)} for qid, docs in run.items()}
    totals = dict.fromkeys(METRICS, 0.0)
    for metric in ir_measures.iter_calc(measures, qrels, ranked):
        name = next(ours for ours, theirs in METRICS.items() if str(metric.measure) == theirs)
        totals[name] += metric.value
    return {name: round(total / len(qrels), 4) for name, total in totals.items()}


def _measures() -> Any:
    """The ``ir_measures`` module (trec_eval's code), or the error that says how to install it."""
    try:
        import ir_measures
    except ImportError:
        raise SearchlibError("evaluation needs the ir-measures package; install it with: pip install 'searchlib[eval]'") from None
    return ir_measures


def write_trec_run(run: dict[str, list[tuple[str, float]]], path: str | Path, *, tag: str = "searchlib") -> None:
    """Write ``run`` in TREC format: ``qid Q0 docid rank score tag``."""
    with open(path, "w", encoding="utf-8") as out:
        for qid, docs in run.items():
            for rank, (doc_id, value) in enumerate(docs, start=1):
                out.write(f"{qid} Q0 {doc_id} {rank} {value:.4f} {tag}\n")


def _index_corpus(
    index: Index, data: Dataset, *, detect: bool, on_progress: Callable[[EvalProgress], None] | None
) -> None:
    total = len(data.doc_langs)
    documents: Iterator[Document] = data.documents()
    if detect:
        documents = (Document(id=d.id, text=d.text, title=d.title) for d in documents)

    def progress(p: object) -> None:
        if on_progress is not None:
            on_progress(EvalProgress("indexing", getattr(p, "documents", 0), total))

    index.add(documents, on_progress=progress)


def _run(
    index: Index,
    queries: Sequence[Query],
    *,
    lang: str | None,
    ranking: Ranking | None,
    on_progress: Callable[[EvalProgress], None] | None,
) -> dict[str, list[tuple[str, float]]]:
    run: dict[str, list[tuple[str, float]]] = {}
    for i, q in enumerate(queries, start=1):
        try:
            results = index.search(q.text, limit=DEPTH, per_doc=True, lang=lang, plain=True, highlight=False, ranking=ranking)
        except QuerySyntaxError:
            results = None
        run[q.id] = [(hit.doc_id, hit.score) for hit in results.hits] if results else []
        if on_progress is not None:
            on_progress(EvalProgress("querying", i, len(queries)))
    return run


def _restrict(data: Dataset, queries: Sequence[Query], lang: str | None) -> dict[str, dict[str, int]]:
    """The judgments of ``queries``; in a monolingual run, only documents of that language count."""
    code = get_language(lang).code if lang else None
    qrels = {}
    for q in queries:
        judged = data.qrels[q.id]
        if code is not None:
            judged = {d: r for d, r in judged.items() if _code(data.doc_langs.get(d, "")) == code}
        if any(r > 0 for r in judged.values()):
            qrels[q.id] = judged
    return qrels


def _code(name: str) -> str | None:
    try:
        return get_language(name).code if name else None
    except SearchlibError:
        return None


def _read_jsonl(path: Path, parse: Callable[[bytes, str, int], object]) -> Iterator:
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            if raw.strip():
                yield parse(raw, str(path), lineno)


def _parse_query(raw: bytes, label: str, lineno: int) -> Query:
    try:
        record = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"{label} line {lineno}: invalid JSON ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("id"), (str, int)) or not isinstance(record.get("text"), str):
        raise InputError(f'{label} line {lineno}: a query needs a string "id" and a string "text"')
    lang = record.get("lang")
    return Query(id=str(record["id"]), text=record["text"], lang=lang if isinstance(lang, str) else None)


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        header = handle.readline()
        if not header.lower().startswith("query"):
            raise InputError(f"{path} line 1: expected a header line (query_id, doc_id, relevance), got {header.strip()!r}")
        for lineno, line in enumerate(handle, start=2):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or not parts[2].strip().lstrip("-").isdigit():
                raise InputError(f"{path} line {lineno}: expected query_id<TAB>doc_id<TAB>relevance, got {line.strip()!r}")
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels
