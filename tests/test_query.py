"""Query analysis agrees with document analysis: every indexed word finds itself."""

import pytest
from conftest import SEED_ID

from searchlib.text import fold

# Characters of the query language: a word holding one is not typed as is.
SYNTAX = set('*?~^:"()')


def indexed_words(seed_analyzed):
    """Every indexed word of the article as written, with where it is."""
    seen = {}
    for passage in seed_analyzed.passages:
        for token in passage.tokens:
            written = passage.text[token.start : token.end]
            seen.setdefault(written, []).append((passage.number, (token.start, token.end)))
    return seen


def test_query_every_indexed_word_finds_and_marks_itself(seed_index, seed_analyzed):
    words = indexed_words(seed_analyzed)
    typed = {w: places for w, places in words.items() if not SYNTAX & set(w)}
    assert len(typed) > 200 and len(words) - len(typed) <= 2
    failures = []
    for written, places in typed.items():
        results = seed_index.search(written, limit=100)
        marked = {(h.passage, m) for h in results.hits if h.doc_id == SEED_ID for m in h.matches}
        missing = [place for place in places if place not in marked]
        if missing:
            failures.append((written, missing))
    assert failures == []


def test_query_every_indexed_word_typed_without_accents_finds_itself(seed_index, seed_analyzed):
    failures = []
    for written, places in indexed_words(seed_analyzed).items():
        if SYNTAX & set(written) or fold(written) == written.lower():
            continue
        results = seed_index.search(fold(written), limit=100)
        marked = {(h.passage, m) for h in results.hits for m in h.matches}
        if any(place not in marked for place in places):
            failures.append(written)
    assert failures == []


@pytest.mark.parametrize("query", ["31/07/2020", "2019-2021", "États participants", "l’OSCE", "d’exploitation"])
def test_query_words_with_inner_punctuation(seed_index, query):
    results = seed_index.search(query)
    assert results.total >= 1
    assert all(hit.matches for hit in results.hits[:1])


@pytest.mark.parametrize(
    ("a", "b", "limit", "within"),
    [
        ("victimes", "victimmes", 1, True),  # one insertion
        ("victimes", "vicitmes", 1, True),  # a swap of neighbours counts one
        ("victimes", "vcitimes", 1, True),
        ("victimes", "vitcimse", 1, False),  # two swaps
        ("victimes", "vitcimse", 2, True),
        ("prostitution", "prostitusion", 1, True),
        ("prostitution", "prostitusiom", 1, False),
        ("ab", "ba", 0, False),
        ("traite", "traite", 0, True),
    ],
)
def test_query_suggestion_distance_counts_a_swap_as_one_edit(a, b, limit, within):
    from searchlib.query import _within

    assert _within(a, b, limit) is within
    assert _within(b, a, limit) is within
