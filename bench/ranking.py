"""What each ranking choice is worth on every judged set: one table, rankings by sets.

    pip install -e '.[bench]'
    python bench/ranking.py --work /tmp/ranking-work                   # every variant, tuning parts only
    python bench/ranking.py --work /tmp/ranking-work --parts tune test  # held-out parts too (report, never tune on them)
    python bench/ranking.py --work /tmp/ranking-work --variant default --variant "- title"
    python bench/ranking.py --work /tmp/ranking-work --parts tune test --by language   # or --by kind

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

``--by language`` and ``--by kind`` split each set's columns by the queries'
language or kind (PIAF's questions, the sheets' questions, keywords and
situations, the news retold or named by its entities, headlines) instead of by
part, pooling the parts asked for: a report of what each kind of evidence
brings where, not a tuning table.
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
    "- accent-folded matches": replace(DEFAULT, folded_weight=0.0),
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
#: What ``--by`` can split the columns by: a part, or a query's language or kind.
SPLITS_BY = ("part", "language", "kind")


class JudgedSet:
    """One part of a judged set: its index, its queries and their judgments."""

    def __init__(self, name: str, part: str, index: Index, queries: list[Query], qrels: dict[str, dict[str, int]],
                 labels: dict[str, tuple[str, str]]) -> None:
        self.name, self.part, self.index, self.queries, self.qrels = name, part, index, queries, qrels
        #: Each query's language and kind, for ``--by``.
        self.labels = labels

    def column(self, qid: str, by: str) -> str:
        group = self.name.split("-headlines")[0] + ("-headlines" if "headlines" in self.name else "")
        language, kind = self.labels[qid]
        return f"{group} {self.part if by == 'part' else language if by == 'language' else kind}"

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


def _from_dataset(name: str, data: Dataset, part: str, index: Index, *, kind: str, lang: str | None = None) -> JudgedSet:
    """The queries of ``data`` (of ``lang`` only, judged on its documents only, when given)."""
    qrels = {
        qid: {doc: grade for doc, grade in judged.items() if lang is None or data.doc_langs.get(doc) == lang}
        for qid, judged in data.qrels.items()
    }
    queries = [(q.id, q.text, lang) for q in data.queries
               if any(qrels.get(q.id, {}).values()) and (lang is None or (q.lang or lang) == lang)]
    return JudgedSet(name, part, index, queries, {qid: qrels[qid] for qid, _, _ in queries},
                     {qid: (lang or "fr", kind) for qid, _, _ in queries})


def load_sets(work: Path, names: list[str], parts: list[str]) -> list[JudgedSet]:
    sets: list[JudgedSet] = []
    if "piaf" in names:
        piaf = load_dataset(need(DATA / "piaf"))
        for part, half in zip(("tune", "test"), piaf.split()):
            if part in parts:
                index = _index(work / f"piaf-{part}", lambda half=half: list(half.documents()))
                sets.append(_from_dataset("piaf", half, part, index, kind="question"))
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
                                  {q.id: qrels[q.id] for q in chosen}, {q.id: (q.lang, q.groups[0]) for q in chosen}))
    if "ntrex-headlines" in names:
        ntrex = load_dataset(need(DATA / "ntrex128"))
        index = _index(work / "ntrex", lambda: read_corpus(DATA / "ntrex128" / "corpus.jsonl"))
        halves = dict(zip(("tune", "test"), ntrex.split(group=lambda doc: doc.id.rsplit("-", 1)[0])))
        for part in parts:
            for lang in ("fr", "en", "de", "es", "it", "pt", "nl"):
                sets.append(_from_dataset(f"ntrex-headlines-{lang}", halves[part], part, index, kind="headline", lang=lang))
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="folder for the indexes, reused when built")
    parser.add_argument("--set", dest="sets", action="append", choices=["piaf", "spf", "ntrex-judged", "ntrex-headlines"])
    parser.add_argument("--parts", nargs="+", default=["tune"], choices=["tune", "test"])
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="default: every variant")
    parser.add_argument("--by", choices=SPLITS_BY, default="part", help="split each set's columns by (default: part)")
    args = parser.parse_args()
    names = args.sets or ["piaf", "spf", "ntrex-judged", "ntrex-headlines"]
    sets = load_sets(args.work, names, args.parts)
    variants = args.variant or list(VARIANTS)
    results: dict[str, dict[str, float]] = {}
    # Columns: the sets in the order asked, each split by part (tune first) or by its queries' labels.
    columns = sorted({judged.column(qid, args.by) for judged in sets for qid, _, _ in judged.queries},
                     key=lambda c: (next((i for i, n in enumerate(names) if c.startswith(n + " ")), 99), c.split()[1] != "tune", c))
    sizes = {column: sum(judged.column(qid, args.by) == column for judged in sets for qid, _, _ in judged.queries) for column in columns}
    for variant in variants:
        per_column: dict[str, list[float]] = {}
        seconds = []
        for judged in sets:
            values, per_query = judged.ndcg(VARIANTS[variant])
            for qid, value in values.items():
                per_column.setdefault(judged.column(qid, args.by), []).append(value)
            seconds.append(per_query)
        results[variant] = {column: statistics.mean(v) for column, v in per_column.items()}
        results[variant]["ms/query"] = 1000 * statistics.mean(seconds)
        print(variant, {k: round(v, 4) for k, v in results[variant].items()}, flush=True)
    header = ["variant", *(f"{c} ({sizes[c]})" for c in columns), "ms/query"]
    rows = [[v, *(results[v].get(c, float("nan")) for c in columns), f"{results[v]['ms/query']:.0f}"] for v in variants]
    print()
    print(table(header, rows))
    print(f"\nwritten to {save('ranking.json' if args.by == 'part' else f'ranking-by-{args.by}.json', results)}")


if __name__ == "__main__":
    main()
