"""Stage 6: which words of a hit to mark, and how to show them.

The offsets come from the index itself: every posting of ``lemma_<lang>`` and
``fold_<lang>`` stores the positions of its word, and each passage stores the
offsets of its words by position, as written. A match is therefore always a
whole word, accents and all, and never the elided
article before it (``l’`` in ``l’impunité`` was never indexed). Phrases mark
only their occurrences as phrases, not every word of the phrase wherever it
appears; entity filters mark the mentions they selected.

Offsets are relative to the passage text, so ``text[s:e]`` is the matched
word; add the hit's ``start`` for offsets into the document.
"""

from __future__ import annotations

import html
import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from whoosh import query as wq
from whoosh.searching import Searcher

from .phrases import chains, gaps_hold, text_phrase_at
from .query import EntityLeaf, Leaf, PatternLeaf, PhraseLeaf, TextPhraseLeaf, WordLeaf
from .schema import decode_words, entity_key

Span = tuple[int, int]
#: ``(terms, docnums) → {docnum: {term: positions}}``
Positions = Callable[[Iterable[tuple[str, str]], Sequence[int]], dict[int, dict[tuple[str, str], list[int]]]]
# A word between two words of a phrase, but not an elided article ("l" of "l’").
_GAP_WORD = re.compile(r"\w+(?!['’\w])")
_ELIDED = re.compile(r"^['’ʼ]|['’ʼ]$")
# (position, start, end) of one occurrence of a term in one passage.
Occurrence = tuple[int, int, int]


def find_matches(
    searcher: Searcher,
    docnums: Sequence[int],
    leaves: Sequence[Leaf],
    *,
    texts: dict[int, str],
    entities: dict[int, Sequence[tuple]],
    offsets: dict[int, bytes],
    positions: Positions | None = None,
) -> dict[int, list[Span]]:
    """The marked words of each passage in ``docnums``, as sorted ``(start, end)`` spans.

    ``offsets`` are the passages' stored word offsets (see
    :func:`searchlib.schema.encode_words`), which turn positions into spans.
    ``positions`` reads where terms occur in passages (default: from the
    searcher's postings; the engine reads only the postings that hold them).
    """
    reader = searcher.reader()
    wanted: set[tuple[str, str]] = set()
    pattern_terms: dict[int, list[tuple[str, str]]] = {}
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, WordLeaf):
            wanted.update(leaf.terms)
        elif isinstance(leaf, PhraseLeaf):
            wanted.update((leaf.field, t) for slot in leaf.slots for t in slot)
        elif isinstance(leaf, PatternLeaf):
            q = leaf.query
            found = q.expanded_terms(reader) if isinstance(q, wq.MultiTerm) else q.iter_all_terms()
            expanded = [(f, b.decode("utf-8") if isinstance(b, bytes) else b) for f, b in found]
            pattern_terms[i] = expanded
            wanted.update(expanded)

    occurrences = _occurrences(searcher, sorted(docnums), wanted, offsets, texts, positions)
    result: dict[int, list[Span]] = {}
    for docnum in docnums:
        found = occurrences.get(docnum, {})
        spans: set[Span] = set()
        for i, leaf in enumerate(leaves):
            if isinstance(leaf, WordLeaf):
                spans.update(_spans(found, leaf.terms))
            elif isinstance(leaf, PatternLeaf):
                spans.update(_spans(found, pattern_terms[i]))
            elif isinstance(leaf, PhraseLeaf):
                spans.update(_phrase_spans(found, leaf, texts.get(docnum, ""), decode_words(offsets.get(docnum, b""))))
            elif isinstance(leaf, EntityLeaf):
                spans.update(_entity_spans(entities.get(docnum, ()), leaf))
            elif isinstance(leaf, TextPhraseLeaf):
                spans.update(_text_phrase_spans(leaf, texts.get(docnum, ""), decode_words(offsets.get(docnum, b""))))
        result[docnum] = _disjoint(spans)
    return result


def _occurrences(
    searcher: Searcher,
    docnums: Sequence[int],
    terms: Iterable[tuple[str, str]],
    offsets: dict[int, bytes],
    texts: dict[int, str],
    positions: Positions | None,
) -> dict[int, dict[tuple[str, str], list[Occurrence]]]:
    """Where each term occurs in each passage: its positions, and their words."""
    read = positions or (lambda terms, docnums: _read_positions(searcher, terms, docnums))
    found: dict[int, dict[tuple[str, str], list[Occurrence]]] = defaultdict(dict)
    for docnum, by_term in read(terms, docnums).items():
        text, at = texts.get(docnum, ""), decode_words(offsets.get(docnum, b""))
        for term, where in by_term.items():
            found[docnum][term] = [(p, *_word(text, *at[p])) for p in where if p < len(at)]
    return found


def _read_positions(searcher: Searcher, terms: Iterable[tuple[str, str]], docnums: Sequence[int]) -> dict[int, dict[tuple[str, str], list[int]]]:
    """Each term's positions in each passage, in one pass over its postings."""
    reader = searcher.reader()
    found: dict[int, dict[tuple[str, str], list[int]]] = defaultdict(dict)
    for fieldname, term in terms:
        if (fieldname, term) not in reader:
            continue
        # The reader's postings, not the searcher's: no scorer to set up.
        matcher = reader.postings(fieldname, term)
        for docnum in stops(matcher, docnums):
            found[docnum][(fieldname, term)] = list(matcher.value_as("positions"))
    return found


def _word(text: str, start: int, end: int) -> Span:
    """A token's span without the punctuation spaCy left on its ends ("25." → "25"): the word is marked."""
    while start < end - 1 and not text[start].isalnum():
        start += 1
    while end > start + 1 and not text[end - 1].isalnum():
        end -= 1
    return start, end


def stops(matcher: Any, docnums: Sequence[int]) -> Iterator[int]:
    """Those of ``docnums`` (ascending) that ``matcher`` matches, with the matcher standing on each.

    Reads only the postings blocks that hold them, so a few documents cost
    a few skips whatever the length of the postings list.
    """
    for docnum in docnums:
        if not matcher.is_active():
            return
        if matcher.id() < docnum:
            matcher.skip_to(docnum)
            if not matcher.is_active():
                return
        if matcher.id() == docnum:
            yield docnum


def _spans(found: dict[tuple[str, str], list[Occurrence]], terms: Iterable[tuple[str, str]]) -> Iterable[Span]:
    for term in terms:
        for _, start, end in found.get(term, ()):
            yield start, end


def _phrase_spans(
    found: dict[tuple[str, str], list[Occurrence]], leaf: PhraseLeaf, text: str, words_at: Sequence[tuple[int, int]]
) -> set[Span]:
    slots: list[dict[int, Span]] = []
    for slot in leaf.slots:
        at: dict[int, Span] = {}
        for term in slot:
            for pos, start, end in found.get((leaf.field, term), ()):
                at[pos] = (start, end)
        slots.append(at)
    spans: set[Span] = set()
    for chain in chains(slots, leaf.offsets, leaf.slop):
        if leaf.gaps:
            # As the search checked them: each function word at its position, marked too.
            if not gaps_hold(leaf.gaps, chain[0], text, words_at):
                continue
            # Not an elision or a clitic ("l’", "'s"): never marked, as in a word query.
            gap_words = [words_at[chain[0] + at] for at, _ in leaf.gaps]
            spans.update(_word(text, *span) for span in gap_words if not _ELIDED.search(text[slice(*span)]))
        words = [slot[p] for slot, p in zip(slots, chain)]
        spans.update(words)
        if leaf.slop <= 1:
            # An exact phrase: the function words inside it ("de" in
            # "Convention de Palerme") were typed too, so mark them.
            for (_, gap_start), (gap_end, _) in itertools.pairwise(words):
                spans.update(m.span() for m in _GAP_WORD.finditer(text, gap_start, gap_end))
    return spans


def _text_phrase_spans(leaf: TextPhraseLeaf, text: str, words_at: Sequence[tuple[int, int]]) -> Iterable[Span]:
    for first in text_phrase_at(leaf.keys, text, words_at):
        for span in words_at[first : first + len(leaf.keys)]:
            # An elision or a clitic ("l’") is never marked, as in a word query.
            if not _ELIDED.search(text[slice(*span)]):
                yield _word(text, *span)


def _entity_spans(mentions: Sequence[tuple], leaf: EntityLeaf) -> Iterable[Span]:
    for text, label, _start, _end, words in mentions:
        if leaf.key is not None and entity_key(text) != leaf.key:
            continue
        if leaf.label is not None and label != leaf.label:
            continue
        yield from words


def _disjoint(spans: Iterable[Span]) -> list[Span]:
    """Sorted spans, with any overlap merged so that marks never nest."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def mark(text: str, matches: Sequence[Span], *, before: str, after: str, escape: Callable[[str], str] = str) -> str:
    """Wrap each match of ``text`` in ``before``/``after``, escaping the rest with ``escape``.

    >>> mark("la traite", [(3, 9)], before="[", after="]")
    'la [traite]'
    """
    out = []
    pos = 0
    for start, end in matches:
        out.append(escape(text[pos:start]))
        out.append(before + escape(text[start:end]) + after)
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def html_highlight(text: str, matches: Sequence[Span]) -> str:
    """The passage as HTML, each match wrapped in ``<mark>``."""
    return mark(text, matches, before="<mark>", after="</mark>", escape=lambda s: html.escape(s, quote=False))
