"""What PIAF's misses are made of: ranking, or vocabulary.

    pip install -e '.[bench]'
    python bench/misses.py --work /tmp/misses-work                      # the defaults
    python bench/misses.py --work /tmp/misses-work --entity-weight 0    # without the entity bonus

Every PIAF question is run as a user's search (``limit=10, per_doc=True,
plain=True``) against all 1,518 paragraphs. For each question whose first
document is not its own paragraph, the two documents are compared by the
question's words they hold: Snowball stems (PyStemmer) of the words of three
letters or more, accents folded, each weighted by its idf over the paragraphs.

- *ranking*: the question's own paragraph holds more of its words than the
  document ranked first, yet ranks lower;
- *vocabulary*: the document ranked first holds more of them; no weighting of
  the words the two share can fix that, only words the paragraph does not say;
- *tie*: both hold the same words.

It also prints the ceiling of each kind: the nDCG@10 the questions would reach
if every miss of that kind (and of the kinds before it) put its paragraph first,
and how many misses rank another paragraph of the same article first.
"""

from __future__ import annotations

import argparse
import math
import re
import unicodedata
from collections import Counter
from dataclasses import replace
from pathlib import Path

import Stemmer
from _common import DATA, need

from searchlib import open_index
from searchlib.evaluate import load_dataset
from searchlib.ranking import DEFAULT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="folder for the index, reused when built")
    parser.add_argument("--entity-weight", type=float, default=DEFAULT.entity_weight)
    args = parser.parse_args()
    piaf = load_dataset(need(DATA / "piaf"))
    index = open_index(args.work / "piaf", create=True)
    if not index.info().documents:
        index.add(list(piaf.documents()), jobs=1)
    stemmer = Stemmer.Stemmer("french")

    def stems(text: str) -> set[str]:
        folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
        return {stemmer.stemWord(w) for w in re.findall(r"\w+", folded) if len(w) > 2}

    held = {doc.id: stems(f"{doc.title} {doc.text}") for doc in piaf.documents()}
    frequency = Counter(stem for words in held.values() for stem in words)

    def weight(words: set[str], doc_id: str) -> float:
        return sum(math.log(len(held) / frequency[w]) for w in words & held[doc_id])

    ranking = replace(DEFAULT, entity_weight=args.entity_weight)
    kinds: Counter[str] = Counter()
    # Per kind: the gain its misses have now, and how many rank a sibling paragraph first.
    gains: Counter[str] = Counter()
    siblings: Counter[str] = Counter()
    titles = {doc.id: doc.title for doc in piaf.documents()}
    for query in piaf.queries:
        own = {doc for doc, grade in piaf.qrels.get(query.id, {}).items() if grade > 0}
        hits = index.search(query.text, limit=10, per_doc=True, plain=True, highlight=False, ranking=ranking).hits
        if not own:
            continue
        if not hits:
            kinds["no hit"] += 1
            continue
        first = hits[0].doc_id
        rank = next((n for n, hit in enumerate(hits, 1) if hit.doc_id in own), None)
        if rank == 1:
            kinds["first"] += 1
            continue
        words = stems(query.text)
        mine, theirs = max(weight(words, doc) for doc in own), weight(words, first)
        kind = "ranking" if mine > theirs + 1e-9 else "vocabulary" if mine < theirs - 1e-9 else "tie"
        kinds[kind] += 1
        # PIAF judges one paragraph per question, so its nDCG@10 is 1 / log2(rank + 1).
        gains[kind] += 1 / math.log2(rank + 1) if rank else 0.0
        siblings[kind] += any(titles[first] == titles[doc] for doc in own)
    total = sum(kinds.values())
    missed = total - kinds["first"]
    now = (kinds["first"] + sum(gains.values())) / total
    print(f"{total} questions, {kinds['first']} with their paragraph first, {missed} without; nDCG@10 {now:.4f}")
    print(f"  {'kind':<10} {'misses':>6} {'share':>6} {'same article':>13} {'nDCG if all first':>18}")
    ceiling = now
    for kind in ("ranking", "tie", "vocabulary", "no hit"):
        ceiling += (kinds[kind] - gains[kind]) / total
        print(f"  {kind:<10} {kinds[kind]:>6} {kinds[kind] / max(missed, 1):>6.0%} {siblings[kind]:>13} {ceiling:>18.4f}")


if __name__ == "__main__":
    main()
