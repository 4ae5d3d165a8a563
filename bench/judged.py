"""Harder judged sets: people's questions on long administrative sheets, and news retold in other words.

    pip install -e '.[bench]'
    python bench/judged.py --work /tmp/judged-work             # indexes once (about 6 minutes on 2 cores), then 2 minutes a run
    python bench/judged.py --work /tmp/judged-work --pool 20   # write the judging pools instead

The sets are in bench/judged/ (see its README.md for how they were made):

- ``spf``: French queries written in a person's words (questions, a few
  keywords, situations) over the 530 service-public.fr sheets of
  ../shared/data/spf-fiches, judged by hand on a pool (0, 1 or 2);
- ``ntrex``: queries that are not headlines over NTREX-128, 12 articles in
  each of 7 languages, two queries an article (its key entities and a few
  content words; the story retold with no name at all), run monolingually:
  each query against its language's documents.

Each query is run through searchlib exactly as a user asking for 10 results
would (``Index.search(q, limit=10, per_doc=True, plain=True)``), and again
with ``limit=100`` for Recall@100 and for comparison; and through two
references on the same documents: BM25 + Snowball (bm25s, k1=1.2, b=0.75,
title + text, the stop list of the language) and the same BM25 without
stemming. Reported: nDCG@10 (graded), MRR@10 and Recall@100 per set, per
split (``tune``, ``test``), per query kind and (ntrex) per language, with a
paired randomization test of searchlib (limit 10, and limit 100) against each
reference. The ``test`` split is held out: it is never used to choose a
ranking parameter.

Indexes are built once in ``--work`` and reused. It prints Markdown tables
and writes bench/results/judged.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from _common import BM25, DATA, ROOT, need, paired_p_value, per_query_ndcg, save, table

from searchlib import Document, Index, open_index
from searchlib.evaluate import score
from searchlib.sources import parse_jsonl_line

JUDGED = ROOT / "bench" / "judged"
#: Set name → the corpus its queries are judged on (never copied into the repo).
CORPORA = {"spf": DATA / "spf-fiches" / "corpus.jsonl", "ntrex": DATA / "ntrex128" / "corpus.jsonl"}
SPLITS = ("tune", "test")
#: Runs: "searchlib" (limit=10), "searchlib@100" (limit=100), and these two.
REFERENCES = ("bm25_snowball", "bm25_plain")

Run = dict[str, list[tuple[str, float]]]
Qrels = dict[str, dict[str, int]]


@dataclass(frozen=True)
class JudgedQuery:
    id: str
    text: str
    lang: str
    split: str
    #: The parts it is reported in besides its split: its kind (spf: question,
    #: keywords, situation; ntrex: entities, retold), then, for ntrex, its language.
    groups: tuple[str, ...]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=None, help="folder for the indexes, reused when built (default: a temporary one)")
    parser.add_argument("--set", choices=sorted(CORPORA), action="append", help="only this set (repeatable; default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="analysis processes when indexing (default: 1, the machine is shared)")
    parser.add_argument("--pool", type=int, metavar="DEPTH", default=None,
                        help="write each query's judging pool (top DEPTH of every system) to the work folder instead of scoring")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="searchlib-judged-"))
    names = args.set or sorted(CORPORA, reverse=True)

    results: dict[str, object] = {}
    for name in names:
        # Pools are drawn before the split is known (NTREX is split by the events the judgments find).
        queries = load_queries(JUDGED / name / "queries.jsonl", name, need_split=args.pool is None)
        docs = read_corpus(need(CORPORA[name]))
        started = time.monotonic()
        index = build_index(work / name, docs, jobs=args.jobs)
        print(f"{name}: index ready in {time.monotonic() - started:.0f} s ({work / name})", flush=True)
        depth = max(args.pool or 0, 100)
        runs = {
            "searchlib": searchlib_run(index, queries, limit=10, monolingual=name == "ntrex"),
            "searchlib@100": searchlib_run(index, queries, limit=depth, monolingual=name == "ntrex"),
            **reference_runs(docs, queries, depth=depth),
        }
        if args.pool is not None:
            path = write_pool(work / f"pool-{name}.tsv", queries, runs, depth=args.pool)
            print(f"{name}: pool of depth {args.pool} written to {path}")
            continue
        qrels = load_qrels(JUDGED / name / "qrels.tsv", queries, {d.id for d in docs})
        results[name] = evaluate_set(queries, qrels, runs)
        print(f"{name}: scored {len(queries)} queries", flush=True)
    if args.pool is None:
        print()
        print(report_tables(results))
        print(f"\nwritten to {save('judged.json', results)}")


def load_queries(path: Path, name: str, *, need_split: bool = True) -> list[JudgedQuery]:
    queries = []
    with path.open(encoding="utf-8") as lines:
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            if need_split and record.get("split") not in SPLITS:
                sys.exit(f"{path} line {lineno}: the split must be one of {', '.join(SPLITS)}, not {record.get('split')!r}")
            groups = (record["kind"],) if name == "spf" else (record["kind"], record["lang"])
            queries.append(JudgedQuery(id=record["id"], text=record["text"], lang=record["lang"], split=record.get("split", ""), groups=groups))
    return queries


def load_qrels(path: Path, queries: list[JudgedQuery], doc_ids: set[str]) -> Qrels:
    """Graded judgments; every query must have a document graded 2, and every judged document must exist."""
    qrels: Qrels = {}
    with path.open(encoding="utf-8") as lines:
        next(lines)  # the header
        for line in lines:
            if line.strip():
                qid, doc, grade = line.rstrip("\n").split("\t")
                if doc not in doc_ids:
                    sys.exit(f"{path}: {doc} (judged for {qid}) is not in the corpus")
                qrels.setdefault(qid, {})[doc] = int(grade)
    missing = [q.id for q in queries if 2 not in qrels.get(q.id, {}).values()]
    if missing:
        sys.exit(f"{path}: no document graded 2 for {', '.join(missing)}; judge them first")
    return {q.id: qrels[q.id] for q in queries}


def read_corpus(path: Path) -> list[Document]:
    with path.open("rb") as lines:
        return [parse_jsonl_line(raw, str(path), lineno) for lineno, raw in enumerate(lines, start=1) if raw.strip()]


def build_index(path: Path, docs: list[Document], *, jobs: int) -> Index:
    """The corpus indexed in ``path`` with the languages it gives; documents already there and unchanged are skipped."""
    index = open_index(path, create=True)
    index.add(docs, jobs=jobs)
    return index


def searchlib_run(index: Index, queries: list[JudgedQuery], *, limit: int, monolingual: bool) -> Run:
    """What ``search`` returns for each query as plain text, one hit per document (NTREX: in the query's language)."""
    run: Run = {}
    for q in queries:
        results = index.search(q.text, limit=limit, per_doc=True, plain=True, highlight=False, lang=q.lang if monolingual else None)
        run[q.id] = [(hit.doc_id, hit.score) for hit in results.hits]
    return run


def reference_runs(docs: list[Document], queries: list[JudgedQuery], *, depth: int) -> dict[str, Run]:
    """Both BM25 references, each language's queries against that language's documents."""
    runs: dict[str, Run] = {name: {} for name in REFERENCES}
    for lang in sorted({q.lang for q in queries}):
        subset = [d for d in docs if (d.lang or "fr") == lang]
        asked = [(q.id, q.text) for q in queries if q.lang == lang]
        for name in REFERENCES:
            run, _ = BM25(subset, lang=lang, stem=name == "bm25_snowball").run(asked, depth=depth)
            runs[name].update(run)
    return runs


def write_pool(path: Path, queries: list[JudgedQuery], runs: dict[str, Run], *, depth: int) -> Path:
    """Each query's pooled documents (the top ``depth`` of every run; searchlib at limit 10 gives its 10), with who found them."""
    with path.open("w", encoding="utf-8") as out:
        out.write("query_id\tdoc_id\tfound_by\n")
        for q in queries:
            found: dict[str, list[str]] = {}
            for system, run in runs.items():
                for rank, (doc, _) in enumerate(run.get(q.id, [])[:depth], start=1):
                    found.setdefault(doc, []).append(f"{system}:{rank}")
            for doc, by in sorted(found.items()):
                out.write(f"{q.id}\t{doc}\t{' '.join(by)}\n")
    return path


def evaluate_set(queries: list[JudgedQuery], qrels: Qrels, runs: dict[str, Run]) -> dict[str, object]:
    """Metrics of every system on every part of the set, the paired tests, and each query's nDCG@10."""
    parts: dict[str, list[JudgedQuery]] = {"all": queries}
    for split in SPLITS:
        parts[split] = [q for q in queries if q.split == split]
    # Kinds first, then languages, each in the order the queries first give them.
    levels = max(len(q.groups) for q in queries)
    for group in dict.fromkeys(q.groups[i] for i in range(levels) for q in queries if i < len(q.groups)):
        parts[group] = [q for q in queries if group in q.groups]
        for split in SPLITS:
            parts[f"{group}/{split}"] = [q for q in queries if group in q.groups and q.split == split]
    per_query = {system: per_query_ndcg(qrels, run) for system, run in runs.items()}
    scored: dict[str, object] = {}
    for part, members in parts.items():
        if not members:
            continue
        judged = {q.id: qrels[q.id] for q in members}
        entry: dict[str, object] = {"queries": len(members)}
        for system, run in runs.items():
            entry[system] = score(judged, {qid: run.get(qid, []) for qid in judged})
        entry["p_value"] = {
            f"{ours} vs {ref}": round(paired_p_value({q: per_query[ours][q] for q in judged}, {q: per_query[ref][q] for q in judged}), 3)
            for ours in ("searchlib", "searchlib@100")
            for ref in REFERENCES
        }
        scored[part] = entry
    return {
        "parts": scored,
        "per_query_ndcg@10": {q.id: {system: round(values[q.id], 4) for system, values in per_query.items()} for q in queries},
    }


def report_tables(results: dict[str, dict]) -> str:
    out = []
    for name, result in results.items():
        parts = result["parts"]
        groups = [p for p in parts if p not in ("all", *SPLITS) and "/" not in p]
        out += [
            f"### {name}: nDCG@10 (p: paired randomization test against BM25 + Snowball, or the unstemmed BM25)",
            "",
        ]
        out.append(table(
            ["part", "queries", "searchlib, limit=10", "BM25 + Snowball", "p", "BM25, no stemming", "p",
             "searchlib, limit=100", "p (limit=100 vs BM25 + Snowball)"],
            [_ndcg_row(part, parts[part]) for part in _ordered(SPLITS + ("all",), groups) if part in parts],
        ))
        out += ["", f"### {name}: MRR@10 and Recall@100", ""]
        out.append(table(
            ["part", "searchlib MRR@10", "BM25 + Snowball MRR@10", "BM25, no stemming MRR@10",
             "searchlib@100 Recall@100", "BM25 + Snowball Recall@100", "BM25, no stemming Recall@100"],
            [[part, *(parts[part][s]["mrr@10"] for s in ("searchlib", *REFERENCES)),
              *(parts[part][s]["recall@100"] for s in ("searchlib@100", *REFERENCES))]
             for part in (*SPLITS, "all") if part in parts],
        ))
        out.append("")
    return "\n".join(out).rstrip()


def _ordered(splits: Iterable[str], groups: list[str]) -> list[str]:
    order = list(splits)
    for group in groups:
        order += [group, f"{group}/tune", f"{group}/test"]
    return order


def _ndcg_row(part: str, entry: dict) -> list[object]:
    p = entry["p_value"]
    return [
        part,
        entry["queries"],
        entry["searchlib"]["ndcg@10"],
        entry["bm25_snowball"]["ndcg@10"],
        f"{p['searchlib vs bm25_snowball']:.2f}",
        entry["bm25_plain"]["ndcg@10"],
        f"{p['searchlib vs bm25_plain']:.2f}",
        entry["searchlib@100"]["ndcg@10"],
        f"{p['searchlib@100 vs bm25_snowball']:.2f}",
    ]


if __name__ == "__main__":
    main()
