"""Retrieval quality: searchlib against the BM25 + Snowball reference, on the PIAF test half.

    pip install -e '.[bench]'
    python bench/quality.py                 # about 30 minutes on 2 cores
    python bench/quality.py --sample 500    # a quick look

What it measures, in one run, each system on the same split:

1. the reference (bm25s, Snowball French stemmer, k1=1.2, b=0.75, title+text)
   on the whole of PIAF (a sanity check against ../shared/data/README.md: .787),
   then on the tuning and test halves of :meth:`Dataset.split` (fixed seed);
2. searchlib, default ranking, on both halves (the defaults were chosen on the
   tuning half only);
3. an ablation on the test half: each ranking choice turned off in turn;
4. NTREX-128 monolingual French, reference and searchlib;
5. long documents (service-public.fr sheets, some over 80k characters): the
   mean query time with every ranking addition, against plain BM25 passages.

It prints Markdown tables and writes bench/results/quality.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from _common import DATA, bm25_reference, need, save, table

from searchlib import Document, open_index
from searchlib.evaluate import evaluate, load_dataset
from searchlib.ranking import DEFAULT, Ranking

#: Each ranking choice, turned off (or, for one left off by default, on).
ABLATIONS: dict[str, Ranking] = {
    "searchlib (all choices)": DEFAULT,
    "- document-level evidence": replace(DEFAULT, document_weight=0.0),
    "- stem, written form and prefix at document level": replace(DEFAULT, surface_views=False),
    "- Snowball stems in passages": replace(DEFAULT, stem_weight=0.0),
    "- title field": replace(DEFAULT, title_weight=0.0),
    "- per-field BM25 statistics (Whoosh's BM25F)": replace(DEFAULT, field_statistics=False),
    "- function-word weights": replace(DEFAULT, function_word_weights=False),
    "- exact-accent preference": replace(DEFAULT, folded_weight=1.0),
    "+ proximity bonus (off by default)": replace(DEFAULT, proximity_weight=0.3),
}
#: Every addition off: BM25 over passages (lemmas only), with Whoosh's own statistics.
PLAIN = Ranking(
    document_weight=0.0,
    stem_weight=0.0,
    title_weight=0.0,
    field_statistics=False,
    function_word_weights=False,
    folded_weight=1.0,
    proximity_weight=0.0,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=None, help="queries per evaluation (default: all)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the indexes (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="searchlib-quality-"))
    results: dict[str, object] = {"sample": args.sample}

    piaf = load_dataset(need(DATA / "piaf"))
    tune, test = piaf.split()
    reference_all, _ = bm25_reference(piaf)
    reference = {name: bm25_reference(half) for name, half in (("tune", tune), ("test", test))}
    results["reference"] = {"all": reference_all, **{k: v[0] for k, v in reference.items()}}
    print(f"reference on all of PIAF: {reference_all}", flush=True)

    ours = {}
    for name, half in (("tune", tune), ("test", test)):
        report = evaluate(half, index_path=work / f"piaf-{name}", sample=args.sample)
        ours[name] = report
        print(f"searchlib, {name} half: {report.metrics}", flush=True)
    results["searchlib"] = {k: v.metrics for k, v in ours.items()}

    ablation = {}
    for name, ranking in ABLATIONS.items():
        report = ours["test"] if ranking == DEFAULT else evaluate(test, index_path=work / "piaf-test", sample=args.sample, ranking=ranking)
        ablation[name] = {**report.metrics, "seconds_per_query": report.seconds_querying / report.queries}
        print(f"{name}: {report.metrics}", flush=True)
    results["ablation"] = ablation

    ntrex = load_dataset(need(DATA / "ntrex128"))
    ntrex_ours = evaluate(ntrex, index_path=work / "ntrex", lang="fr")
    ntrex_reference, _ = bm25_reference(ntrex, lang="fr")
    results["ntrex_fr"] = {"reference": ntrex_reference, "searchlib": ntrex_ours.metrics}

    results["long_documents"] = long_documents(work / "spf", [q.text for q in test.queries[:300]])

    print()
    print(report_tables(results))
    print(f"\nwritten to {save('quality.json', results)}")


def long_documents(path: Path, questions: list[str]) -> dict[str, float]:
    """Mean query time on the service-public.fr sheets, every addition on vs all off."""
    index = open_index(path, create=True)
    with open(need(DATA / "spf-fiches" / "corpus.jsonl"), encoding="utf-8") as lines:
        docs = [json.loads(line) for line in lines]
    index.add(Document(id=d["id"], text=d["text"], title=d.get("title") or "", lang="fr") for d in docs)
    longest = max(len(d["text"]) for d in docs)
    timings = {}
    for name, ranking in (("all additions", DEFAULT), ("plain BM25 passages", PLAIN)):
        index.search(questions[0], plain=True, ranking=ranking)  # warm the caches
        times = []
        for question in questions:
            started = time.perf_counter()
            index.search(question, plain=True, ranking=ranking)
            times.append(time.perf_counter() - started)
        timings[name] = statistics.mean(times)
    return {
        "documents": len(docs),
        "longest_document_chars": longest,
        "passages": index.info().passages,
        "mean_query_seconds_all": timings["all additions"],
        "mean_query_seconds_plain": timings["plain BM25 passages"],
        "slowdown": timings["all additions"] / timings["plain BM25 passages"],
    }


def report_tables(results: dict) -> str:
    ref, ours = results["reference"], results["searchlib"]
    rows = [
        ["BM25 + Snowball (bm25s), test half", ref["test"]["ndcg@10"], ref["test"]["mrr@10"], ref["test"]["recall@100"]],
        ["searchlib, test half", ours["test"]["ndcg@10"], ours["test"]["mrr@10"], ours["test"]["recall@100"]],
        ["BM25 + Snowball, tuning half", ref["tune"]["ndcg@10"], ref["tune"]["mrr@10"], ref["tune"]["recall@100"]],
        ["searchlib, tuning half", ours["tune"]["ndcg@10"], ours["tune"]["mrr@10"], ours["tune"]["recall@100"]],
        ["BM25 + Snowball, all of PIAF", ref["all"]["ndcg@10"], ref["all"]["mrr@10"], ref["all"]["recall@100"]],
    ]
    nt = results["ntrex_fr"]
    rows += [
        ["BM25 + Snowball, NTREX-128 fr", nt["reference"]["ndcg@10"], nt["reference"]["mrr@10"], nt["reference"]["recall@100"]],
        ["searchlib, NTREX-128 fr", nt["searchlib"]["ndcg@10"], nt["searchlib"]["mrr@10"], nt["searchlib"]["recall@100"]],
    ]
    out = [table(["system", "nDCG@10", "MRR@10", "Recall@100"], rows), ""]
    base = results["ablation"]["searchlib (all choices)"]
    out.append(table(
        ["PIAF test half", "nDCG@10", "Δ nDCG@10", "MRR@10", "ms/query"],
        [[name, m["ndcg@10"], f"{m['ndcg@10'] - base['ndcg@10']:+.3f}", m["mrr@10"], f"{m['seconds_per_query'] * 1000:.0f}"]
         for name, m in results["ablation"].items()],
    ))
    long = results["long_documents"]
    out.append("")
    out.append(
        f"Long documents: {long['documents']} service-public.fr sheets (longest {long['longest_document_chars']:,} "
        f"characters, {long['passages']:,} passages); mean query time with every ranking addition "
        f"{long['mean_query_seconds_all'] * 1000:.0f} ms against {long['mean_query_seconds_plain'] * 1000:.0f} ms "
        f"for plain BM25 passages: ×{long['slowdown']:.2f}."
    )
    return "\n".join(out)


if __name__ == "__main__":
    main()
