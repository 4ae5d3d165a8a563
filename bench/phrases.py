"""Issue 11's table: do verbatim 3-word phrases find their own document?

    python bench/phrases.py                 # a few minutes on 2 cores, most of it indexing
    python bench/phrases.py --work DIR      # keep the index in DIR, and reuse it next time (seconds)

The first 1,500 paragraphs of ../shared/data/piaf/corpus.jsonl are indexed.
For each middle word (de, la, du, le, en, et, des), 40 phrases are drawn with a
fixed seed from the texts of those documents, as ../shared/hooks/invariants
draws them: in the lowercased text, that middle word between two words of at
least 3 letters, none of the three touching another word, apostrophe or hyphen.
Each phrase is searched as a phrase (``"w1 de w2"``), best passage per document
(``per_doc=True``), 100 hits; it is found when its own document is among them.

Prints a Markdown table (middle word | found) and the first misses of each word.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from pathlib import Path

from _common import DATA, need

from searchlib import Document, open_index

MIDDLE_WORDS = ("de", "la", "du", "le", "en", "et", "des")
DOCUMENTS = 1_500
PHRASES = 40
LIMIT = 100
SEED = 2026
# The letters of ../shared/hooks/invariants: a word of at least 3 lowercase letters, accents included.
WORD = r"[a-zàâäçéèêëîïôöùûüÿœæ]{3,}"
SHOWN = 5


def phrase_pattern(middle: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w'’-])({WORD} {re.escape(middle)} {WORD})(?![\w'’-])")


def draw(docs: list[dict], rnd: random.Random) -> dict[str, list[tuple[str, str]]]:
    """For each middle word, PHRASES distinct ``(doc_id, phrase)`` pairs, drawn from every occurrence."""
    drawn = {}
    for middle in MIDDLE_WORDS:
        pattern = phrase_pattern(middle)
        candidates = sorted({(d["id"], m.group(1)) for d in docs for m in pattern.finditer(d["text"].lower())})
        if len(candidates) < PHRASES:
            raise SystemExit(f"only {len(candidates)} phrases around {middle!r} in {len(docs)} documents")
        drawn[middle] = rnd.sample(candidates, PHRASES)
    return drawn


def build(path: Path, docs: list[dict]) -> None:
    index = open_index(path, create=True)
    if index.info().documents == len(docs):
        print(f"Reusing the index at {path}.")
        return
    started = time.monotonic()
    report = index.add([Document(id=d["id"], title=d.get("title", ""), text=d["text"], lang=d.get("lang")) for d in docs])
    print(f"Indexed {report.documents:,} documents ({report.passages:,} passages) in {time.monotonic() - started:.0f} s at {path}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=None, help="folder for the index, reused when it holds it (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed of the draw (default {SEED})")
    args = parser.parse_args()
    corpus = need(DATA / "piaf" / "corpus.jsonl")
    with corpus.open(encoding="utf-8") as lines:
        docs = [json.loads(line) for _, line in zip(range(DOCUMENTS), lines)]
    phrases = draw(docs, random.Random(args.seed))

    with tempfile.TemporaryDirectory(prefix="searchlib-phrases-") as scratch:
        path = (args.work or Path(scratch)) / f"piaf-first-{DOCUMENTS}"
        build(path, docs)
        index = open_index(path)
        rows, misses = [], {}
        for middle in MIDDLE_WORDS:
            missed = []
            for doc_id, phrase in phrases[middle]:
                hits = index.search(f'"{phrase}"', per_doc=True, limit=LIMIT, highlight=False).hits
                if doc_id not in {hit.doc_id for hit in hits}:
                    missed.append(f'"{phrase}" ({doc_id}, {len(hits)} hits)')
            rows.append((middle, PHRASES - len(missed)))
            misses[middle] = missed

    print()
    print(f"{DOCUMENTS:,} PIAF paragraphs; {PHRASES} verbatim phrases per middle word, seed {args.seed}; "
          f"found: the phrase's own document among the hits (per_doc=True, limit {LIMIT}).")
    print()
    print("| middle word | found |")
    print("|---|---|")
    for middle, found in rows:
        print(f"| {middle} | {found} / {PHRASES} |")
    print()
    for middle, missed in misses.items():
        if missed:
            print(f"- {middle}: {len(missed)} missed, e.g. " + "; ".join(missed[:SHOWN]))


if __name__ == "__main__":
    main()
