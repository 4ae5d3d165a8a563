"""Shared pieces of the benchmark scripts: data paths, the BM25 reference, tables."""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

from searchlib.evaluate import Dataset, score

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results"

SNOWBALL = {"fr": "french", "en": "english", "de": "german", "es": "spanish", "it": "italian", "pt": "portuguese", "nl": "dutch"}


def need(path: Path) -> Path:
    if not path.exists():
        sys.exit(f"{path} is missing: the shared data sets live beside the project, in ../shared/data/")
    return path


def bm25_reference(data: Dataset, *, lang: str = "fr") -> tuple[dict[str, float], float]:
    """The reference of ../shared/data/README.md: bm25s, Snowball stemmer (PyStemmer), k1=1.2, b=0.75, title+text.

    Returns the metrics and the median query time in seconds. ``lang`` picks
    the stemmer and stop list, and restricts queries and documents to it.
    """
    qrels, run, times = bm25_run(data, lang=lang)
    return score(qrels, run), statistics.median(times)


def bm25_run(data: Dataset, *, lang: str = "fr") -> tuple[dict[str, dict[str, int]], dict[str, list[tuple[str, float]]], list[float]]:
    """The reference's judgments (restricted to ``lang``), ranking per query, and query times."""
    docs = [d for d in data.documents() if not d.lang or d.lang == lang]
    ids = {d.id for d in docs}
    queries = [q for q in data.queries if q.id in data.qrels and (q.lang or lang) == lang]
    qrels = {q.id: {d: r for d, r in data.qrels[q.id].items() if d in ids} for q in queries}
    queries = [q for q in queries if any(qrels[q.id].values())]
    run, times = BM25(docs, lang=lang).run([(q.id, q.text) for q in queries])
    return {q.id: qrels[q.id] for q in queries}, run, times


class BM25:
    """bm25s over ``docs`` (title + text), k1=1.2, b=0.75, ``lang``'s stop list, and its Snowball stemmer unless ``stem=False``."""

    def __init__(self, docs: list, *, lang: str = "fr", stem: bool = True) -> None:
        import bm25s
        import Stemmer

        self._bm25s = bm25s
        self.docs = docs
        self.lang = lang
        self.stemmer = Stemmer.Stemmer(SNOWBALL[lang]) if stem else None
        tokens = bm25s.tokenize([f"{d.title} {d.text}" for d in docs], stopwords=lang, stemmer=self.stemmer, show_progress=False)
        self.retriever = bm25s.BM25(k1=1.2, b=0.75)
        self.retriever.index(tokens, show_progress=False)

    def run(self, queries: list[tuple[str, str]], *, depth: int = 100) -> tuple[dict[str, list[tuple[str, float]]], list[float]]:
        """``(query id, text)`` → ranking of each query (documents scoring above 0, at most ``depth``), and query times."""
        run, times = {}, []
        for qid, text in queries:
            started = time.perf_counter()
            qtokens = self._bm25s.tokenize([text], stopwords=self.lang, stemmer=self.stemmer, show_progress=False)
            found, scores = self.retriever.retrieve(qtokens, k=min(depth, len(self.docs)), show_progress=False)
            times.append(time.perf_counter() - started)
            run[qid] = [(self.docs[i].id, float(s)) for i, s in zip(found[0], scores[0]) if s > 0]
        return run, times


def per_query_ndcg(qrels: dict[str, dict[str, int]], run: dict[str, list[tuple[str, float]]]) -> dict[str, float]:
    """nDCG@10 of each query of ``qrels`` (0 for a query with nothing retrieved)."""
    import ir_measures

    ranked = {qid: {doc: float(len(docs) - i) for i, (doc, _) in enumerate(docs)} for qid, docs in run.items()}
    values = dict.fromkeys(qrels, 0.0)
    for metric in ir_measures.iter_calc([ir_measures.nDCG @ 10], qrels, ranked):
        values[metric.query_id] = metric.value
    return values


def paired_p_value(a: dict[str, float], b: dict[str, float], *, rounds: int = 10_000, seed: int = 2026) -> float:
    """Two-sided paired randomization test of mean(a) - mean(b) over the same queries.

    Each round flips the sign of every query's difference with probability
    1/2; the p-value is the share of rounds whose mean difference is at least
    as far from zero as the observed one.
    """
    diffs = [a[q] - b[q] for q in a]
    observed = abs(sum(diffs))
    rng = random.Random(seed)
    extreme = sum(abs(sum(d if rng.random() < 0.5 else -d for d in diffs)) >= observed - 1e-12 for _ in range(rounds))
    return (extreme + 1) / (rounds + 1)


def save(name: str, data: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def table(header: list[str], rows: list[list[object]]) -> str:
    """A Markdown table."""
    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
