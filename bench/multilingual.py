"""Many languages on real data: NTREX-128, 123 news articles in 7 languages (861 documents).

    pip install -e '.[bench]'
    python bench/multilingual.py            # a few minutes on 2 cores

In one run:

1. all 861 documents are indexed with language detection on, the corpus
   ``lang`` field ignored; detection accuracy is measured against that field,
   per document (the language of its document record) and per passage;
2. for each language, the monolingual run (that language's headlines against
   that language's documents) is scored with nDCG@10, MRR@10 and Recall@100,
   beside the BM25 + Snowball reference (bm25s, k1=1.2, b=0.75) computed here on
   the same documents, and the reference figures of ../shared/data/README.md;
3. headline language detection (queries of 4 to 20 words) is reported too.

The monolingual figures are also given for each half of the articles
(``Dataset.split`` by article, the seed of bench/quality.py): choices about
the languages other than French (their stop lists) were made looking at the
``tune`` half only, so the ``test`` half is the held-out check.

It prints Markdown tables and writes bench/results/multilingual.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

from _common import DATA, bm25_run, need, paired_p_value, per_query_ndcg, save, table

from searchlib import open_index
from searchlib.detect import detect
from searchlib.evaluate import evaluate, load_dataset, score

LANGUAGES = ["fr", "en", "de", "es", "it", "pt", "nl"]
#: nDCG@10 of BM25 + Snowball from ../shared/data/README.md (none given for pt, nl).
README_REFERENCE = {"fr": 0.884, "en": 0.902, "de": 0.896, "es": 0.908, "it": 0.914}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=None, help="folder for the index (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="searchlib-multilingual-"))
    data = load_dataset(need(DATA / "ntrex128"))
    index_path = work / "ntrex-detected"

    # 1. Index everything with detection on, then compare with the given languages.
    overall = evaluate(data, index_path=index_path, detect=True, sample=1)
    index = open_index(index_path)
    given = data.doc_langs
    documents = index.documents()
    right = sum(1 for d in documents if d.lang == given[d.id])
    confusion = Counter((given[d.id], d.lang) for d in documents if d.lang != given[d.id])
    passages = passage_languages(index, given)
    detection = {
        "documents": len(documents),
        "documents_right": right,
        "document_accuracy": right / len(documents),
        "passages": passages["total"],
        "passage_accuracy": passages["right"] / passages["total"],
        "confusions": {f"{a}->{b}": n for (a, b), n in confusion.most_common()},
        "indexing_seconds": overall.seconds_indexing,
        "headline_accuracy": headline_accuracy(data),
    }
    print(f"detection: {detection}", flush=True)

    # 2. Monolingual runs, beside the reference on the same documents.
    halves = data.split(group=article)
    runs = {}
    for lang in LANGUAGES:
        ours = evaluate(data, index_path=index_path, detect=True, lang=lang)
        qrels, reference_run, _ = bm25_run(data, lang=lang)
        reference = score(qrels, reference_run)
        # Is the difference more than chance? A paired randomization test over the queries.
        p_value = paired_p_value(per_query_ndcg(qrels, ours.run), per_query_ndcg(qrels, reference_run))
        runs[lang] = {"searchlib": ours.metrics, "reference": reference, "queries": ours.queries, "p_value": round(p_value, 3)}
        for half in halves:
            judged = {q: j for q, j in qrels.items() if q in half.qrels}
            runs[lang][half.part] = {
                "queries": len(judged),
                "searchlib": score(judged, {q: ours.run.get(q, []) for q in judged}),
                "reference": score(judged, {q: reference_run.get(q, []) for q in judged}),
            }
        print(f"{lang}: searchlib {ours.metrics} reference {reference}", flush=True)
    results = {"detection": detection, "monolingual": runs, "index_size_bytes": index.info().size_bytes}
    print()
    print(report_tables(results))
    print(f"\nwritten to {save('multilingual.json', results)}")


def article(doc) -> str:
    """An NTREX article, whatever the language: "ntrex-bbc.381790-en" → "ntrex-bbc.381790"."""
    return doc.id.rsplit("-", 1)[0]


def passage_languages(index, given: dict[str, str]) -> dict[str, int]:
    """Passages whose language is their document's given language."""
    total = right = 0
    for doc in index.documents():
        for hit in index.search(f"doc:{json.dumps(doc.id)}", limit=max(doc.passages, 1)).hits:
            total += 1
            right += hit.lang == given[doc.id]
    return {"total": total, "right": right}


def headline_accuracy(data) -> float:
    queries = [q for q in data.queries if q.lang]
    return sum(1 for q in queries if detect(q.text)[0][0] == q.lang) / len(queries)


def report_tables(results: dict) -> str:
    det = results["detection"]
    lines = [
        f"Detection (corpus `lang` ignored): {det['documents_right']}/{det['documents']} documents right "
        f"({det['document_accuracy']:.1%}); {det['passage_accuracy']:.1%} of {det['passages']:,} passages; "
        f"headlines alone: {det['headline_accuracy']:.1%}.",
        "",
    ]
    rows = []
    for lang, run in results["monolingual"].items():
        ours, ref = run["searchlib"], run["reference"]
        readme = README_REFERENCE.get(lang)
        rows.append([
            lang, ours["ndcg@10"], ref["ndcg@10"], f"{readme:.3f}" if readme else "–", f"{run['p_value']:.2f}", ours["mrr@10"], ours["recall@100"]
        ])
    lines.append(table(
        ["language", "searchlib nDCG@10", "BM25+Snowball here", "README reference", "p (paired)", "searchlib MRR@10", "searchlib Recall@100"],
        rows,
    ))
    halves = [name for name in ("tune", "test") if name in next(iter(results["monolingual"].values()))]
    if halves:
        lines += ["", "nDCG@10 by half of the articles (same run; the choices for en–nl were made on `tune`):", ""]
        header = ["language"] + [f"{name} ({label})" for name in halves for label in ("searchlib", "BM25+Snowball")]
        rows = [
            [lang] + [run[name][who]["ndcg@10"] for name in halves for who in ("searchlib", "reference")]
            for lang, run in results["monolingual"].items()
        ]
        lines.append(table(header, rows))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
