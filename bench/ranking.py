"""What each ranking choice is worth on every judged set: one table, rankings by sets.

    pip install -e '.[bench]'
    python bench/ranking.py --work /tmp/ranking-work                   # every variant, tuning parts only
    python bench/ranking.py --work /tmp/ranking-work --parts tune test  # held-out parts too (report, never tune on them)
    python bench/ranking.py --work /tmp/ranking-work --variant default --variant "- title"

Every query runs as a user's search does: ``Index.search(q, limit=10,
per_doc=True, plain=True)``, scored by nDCG@10 on the documents it returns.
The sets, each with a tuning part and a held-out test part:

- ``piaf``: PIAF questions, each half against an index of its own half's
  paragraphs (``Dataset.split``, seed 2026), as bench/quality.py does;
- ``spf``: bench/judged/spf, questions, keywords and situations in a person's
  words over the 530 service-public.fr sheets (long documents);
- ``ntrex-judged``: bench/judged/ntrex, news retold in other words, in 7 languages;
- ``ntrex-headlines``: NTREX-128's own headlines, each language against its
  documents, split by article (``Dataset.split``).

Variants are :class:`searchlib.ranking.Ranking` values (see ``VARIANTS``).
Choices are made on the ``tune`` parts only; ``test`` is reported, to see
whether a choice holds on data it was not made on.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from _common import DATA, ROOT, need, per_query_ndcg, save, table
from judged import JUDGED, load_qrels, load_queries, read_corpus

from searchlib import Document, Index, open_index
from searchlib.evaluate import Dataset, load_dataset
from searchlib.ranking import DEFAULT, Ranking

VARIANTS: dict[str, Ranking] = {
    "default": DEFAULT,
    "- document-level evidence": replace(DEFAULT, document_weight=0.0),
    "- surface views at document level": replace(DEFAULT, surface_views=False),
    "- stems in passages": replace(DEFAULT, stem_weight=0.0),
    "- title": replace(DEFAULT, title_weight=0.0),
    "- function-word weights": replace(DEFAULT, function_word_weights=False),
    "- entity names": replace(DEFAULT, entity_weight=0.0),
    "entity weight 1": replace(DEFAULT, entity_weight=1.0),
    "entity weight 3": replace(DEFAULT, entity_weight=3.0),
    "document weight 2": replace(DEFAULT, document_weight=2.0),
    "document weight 5": replace(DEFAULT, document_weight=5.0),
    "document b 0.5": replace(DEFAULT, document_b=0.5),
    "document b 0.3": replace(DEFAULT, document_b=0.3),
    "document k1 1.2": replace(DEFAULT, document_k1=1.2),
    "passage b 0.5": replace(DEFAULT, b=0.5),
    "proximity 0.3": replace(DEFAULT, proximity_weight=0.3),
    "proximity 1": replace(DEFAULT, proximity_weight=1.0),
    "proximity 3": replace(DEFAULT, proximity_weight=3.0),
}

Query = tuple[str, str, str | None]  # id, text, language to restrict to (None: all)


class JudgedSet:
    """One part of a judged set: its index, its queries and their judgments."""

    def __init__(self, name: str, part: str, index: Index, queries: list[Query], qrels: dict[str, dict[str, int]]) -> None:
        self.name, self.part, self.index, self.queries, self.qrels = name, part, index, queries, qrels

    def ndcg(self, ranking: Ranking) -> tuple[dict[str, float], float]:
        """nDCG@10 of each query, and the mean seconds per query."""
        run = {}
        started = time.perf_counter()
        for qid, text, lang in self.queries:
            hits = self.index.search(text, limit=10, per_doc=True, plain=True, highlight=False, lang=lang, ranking=ranking).hits
            run[qid] = [(hit.doc_id, hit.score) for hit in hits]
        seconds = (time.perf_counter() - started) / max(len(self.queries), 1)
        return per_query_ndcg(self.qrels, run), seconds


def _index(path: Path, documents: Callable[[], list[Document]]) -> Index:
    index = open_index(path, create=True)
    if not index.info().documents:
        index.add(documents(), jobs=1)
    return index


def _from_dataset(name: str, data: Dataset, part: str, index: Index, *, lang: str | None = None) -> JudgedSet:
    """The queries of ``data`` (of ``lang`` only, judged on its documents only, when given)."""
    qrels = {
        qid: {doc: grade for doc, grade in judged.items() if lang is None or data.doc_langs.get(doc) == lang}
        for qid, judged in data.qrels.items()
    }
    queries = [(q.id, q.text, lang) for q in data.queries
               if any(qrels.get(q.id, {}).values()) and (lang is None or (q.lang or lang) == lang)]
    return JudgedSet(name, part, index, queries, {qid: qrels[qid] for qid, _, _ in queries})


def load_sets(work: Path, names: list[str], parts: list[str]) -> list[JudgedSet]:
    sets: list[JudgedSet] = []
    if "piaf" in names:
        piaf = load_dataset(need(DATA / "piaf"))
        for part, half in zip(("tune", "test"), piaf.split()):
            if part in parts:
                index = _index(work / f"piaf-{part}", lambda half=half: list(half.documents()))
                sets.append(_from_dataset("piaf", half, part, index))
    for name, corpus in (("spf", DATA / "spf-fiches" / "corpus.jsonl"), ("ntrex-judged", DATA / "ntrex128" / "corpus.jsonl")):
        if name not in names:
            continue
        short = name.split("-")[0]
        docs = read_corpus(need(corpus))
        index = _index(work / short, lambda docs=docs: docs)
        queries = load_queries(JUDGED / short / "queries.jsonl", short)
        qrels = load_qrels(JUDGED / short / "qrels.tsv", queries, {d.id for d in docs})
        for part in parts:
            chosen = [q for q in queries if q.split == part]
            monolingual = short == "ntrex"
            sets.append(JudgedSet(name, part, index, [(q.id, q.text, q.lang if monolingual else None) for q in chosen],
                                  {q.id: qrels[q.id] for q in chosen}))
    if "ntrex-headlines" in names:
        ntrex = load_dataset(need(DATA / "ntrex128"))
        index = _index(work / "ntrex", lambda: read_corpus(DATA / "ntrex128" / "corpus.jsonl"))
        halves = dict(zip(("tune", "test"), ntrex.split(group=lambda doc: doc.id.rsplit("-", 1)[0])))
        for part in parts:
            for lang in ("fr", "en", "de", "es", "it", "pt", "nl"):
                sets.append(_from_dataset(f"ntrex-headlines-{lang}", halves[part], part, index, lang=lang))
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="folder for the indexes, reused when built")
    parser.add_argument("--set", dest="sets", action="append", choices=["piaf", "spf", "ntrex-judged", "ntrex-headlines"])
    parser.add_argument("--parts", nargs="+", default=["tune"], choices=["tune", "test"])
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="default: every variant")
    args = parser.parse_args()
    names = args.sets or ["piaf", "spf", "ntrex-judged", "ntrex-headlines"]
    sets = load_sets(args.work, names, args.parts)
    variants = args.variant or list(VARIANTS)
    results: dict[str, dict[str, float]] = {}
    columns = sorted({(s.name.split("-headlines")[0] + ("-headlines" if "headlines" in s.name else ""), s.part) for s in sets},
                     key=lambda c: (names.index(c[0]) if c[0] in names else 99, c[1] != "tune"))
    for variant in variants:
        per_set: dict[tuple[str, str], list[float]] = {}
        seconds = []
        for judged in sets:
            values, per_query = judged.ndcg(VARIANTS[variant])
            group = judged.name.split("-headlines")[0] + ("-headlines" if "headlines" in judged.name else "")
            per_set.setdefault((group, judged.part), []).extend(values.values())
            seconds.append(per_query)
        results[variant] = {f"{g} {p}": statistics.mean(v) for (g, p), v in per_set.items()}
        results[variant]["ms/query"] = 1000 * statistics.mean(seconds)
        print(variant, {k: round(v, 4) for k, v in results[variant].items()}, flush=True)
    header = ["variant", *(f"{g} {p}" for g, p in columns), "ms/query"]
    rows = [[v, *(results[v].get(f"{g} {p}", float("nan")) for g, p in columns), f"{results[v]['ms/query']:.0f}"] for v in variants]
    print()
    print(table(header, rows))
    print(f"\nwritten to {save('ranking.json', results)}")


if __name__ == "__main__":
    main()
