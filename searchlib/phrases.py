"""Phrase queries over word positions, where a function word is a gap.

Positions count every word of a passage, function words included (see
:attr:`searchlib.analysis.Token.position`), but only content words are
indexed. So ``"Convention de Palerme"`` is two indexed words two positions
apart, whatever "de" was in each passage: each word of the query that can be
a function word is a gap, as a stop word is in Lucene's phrase queries: the
index is never asked for a term it could not have recorded. An exact phrase
then checks its gaps in the stored passage (the word at each gap's position,
from the passage's word offsets), so that ``"après la fin"`` finds that
sequence and not every "fin" two words into a passage.

Slots are the phrase's indexed words, each with its offset from the first
one and the terms that stand for it. With ``slop`` 1 each slot must be at
exactly its offset from the one before; a larger ``slop`` allows up to
``slop - 1`` more words in between, in order, as Whoosh's phrases do.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

from whoosh import matching
from whoosh import query as wq
from whoosh.query.spans import Span, SpanQuery, SpanWrappingMatcher
from whoosh.util import make_binary_tree

from .schema import KIND_PASSAGE, SEP, decode_words
from .text import word_key

Slots = tuple[tuple[int, tuple[str, ...]], ...]
#: A phrase's function words: (offset from the first slot, :func:`word_key`).
Gaps = tuple[tuple[int, str], ...]


def chains(positions: Sequence[Collection[int]], offsets: Sequence[int], slop: int) -> Iterator[list[int]]:
    """Every way the slots occur in order: one position per slot, ascending by the first.

    ``positions[k]`` are the positions where slot ``k`` occurs, ``offsets[k]``
    its offset in the phrase.

    >>> list(chains([{3, 9}, {5}, {6}], [0, 2, 3], 1))
    [[3, 5, 6]]
    """
    if not positions or not all(positions):
        return
    later = [set(p) for p in positions[1:]]
    extra = max(slop, 1) - 1
    for first in sorted(positions[0]):
        # Every partial chain that can still be extended, as (positions so far).
        partial = [[first]]
        for k, at in enumerate(later, start=1):
            gap = offsets[k] - offsets[k - 1]
            partial = [chain + [q] for chain in partial for q in range(chain[-1] + gap, chain[-1] + gap + extra + 1) if q in at]
            if not partial:
                break
        yield from partial


class Phrase(wq.Query):
    """Match the slots' terms at their offsets (within ``slop``) in ``fieldname``.

    Scored like Whoosh's phrases: the sum of the slots' term scores.
    """

    def __init__(
        self,
        fieldname: str,
        slots: Sequence[tuple[int, Sequence[str]]],
        *,
        slop: int = 1,
        boost: float = 1.0,
        gaps: Sequence[tuple[int, str]] = (),
        gap_field: str | None = None,
    ) -> None:
        base = slots[0][0] if slots else 0
        self.fieldname = fieldname
        self.slots: Slots = tuple((offset - base, tuple(sorted(terms))) for offset, terms in slots)
        self.slop = slop
        self.boost = boost
        # Only an exact phrase says where its function words are.
        self.gaps: Gaps = tuple((offset - base, word) for offset, word in gaps) if slop <= 1 else ()
        #: Where the gaps' words are indexed by position (a title's function
        #: words, :func:`searchlib.schema.title_gap_field`); None: in the stored text.
        self.gap_field = gap_field if self.gaps else None

    def _key(self) -> tuple[Any, ...]:
        return (self.fieldname, self.slots, self.slop, self.boost, self.gaps, self.gap_field)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Phrase) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        gap_field = f", gap_field={self.gap_field!r}" if self.gap_field else ""
        return f"Phrase({self.fieldname!r}, {self.slots!r}, slop={self.slop}, boost={self.boost:g}, gaps={self.gaps!r}{gap_field})"

    def __str__(self) -> str:
        return f"{self.fieldname}:\"{' '.join('|'.join(terms) for _, terms in self.slots)}\""

    def has_terms(self) -> bool:
        return True

    def terms(self, phrases: bool = True) -> Iterator[tuple[str, str]]:
        if phrases:
            for _, terms in self.slots:
                for term in terms:
                    yield self.fieldname, term

    def normalize(self) -> wq.Query:
        return self if self.slots else wq.NullQuery

    def _and_query(self) -> wq.Query:
        return wq.And([wq.Or([wq.Term(self.fieldname, t) for t in terms]) for _, terms in self.slots])

    def estimate_size(self, ixreader: Any) -> int:
        return self._and_query().estimate_size(ixreader)

    def estimate_min_size(self, ixreader: Any) -> int:
        return self._and_query().estimate_min_size(ixreader)

    def matcher(self, searcher: Any, context: Any = None) -> matching.Matcher:
        context = SpanQuery._span_context(context)
        reader = searcher.reader()
        matchers = []
        for _, terms in self.slots:
            present = [wq.Term(self.fieldname, t) for t in terms if (self.fieldname, t) in reader]
            if not present:
                return matching.NullMatcher()
            sub = present[0] if len(present) == 1 else wq.Or(present)
            matchers.append(sub.matcher(searcher, context))
        if not matchers:
            return matching.NullMatcher()
        found: matching.Matcher = _PhraseMatcher(
            matchers, [offset for offset, _ in self.slots], self.slop, self.gaps, reader if self.gaps else None, self.gap_field
        )
        if self.boost != 1.0:
            found = matching.WrappingMatcher(found, boost=self.boost)
        return found


class _PhraseMatcher(SpanWrappingMatcher):
    def __init__(self, matchers: list[Any], offsets: list[int], slop: int, gaps: Gaps = (), reader: Any = None,
                 gap_field: str | None = None) -> None:
        self.ms = matchers
        self.offsets = offsets
        self.slop = slop
        self.gaps = gaps
        self.reader = reader
        self.gap_field = gap_field
        self._passage: tuple[int, str, list[tuple[int, int]]] = (-1, "", [])
        child = matchers[0] if len(matchers) == 1 else make_binary_tree(matching.IntersectionMatcher, matchers)
        super().__init__(child)

    def copy(self) -> _PhraseMatcher:
        return _PhraseMatcher([m.copy() for m in self.ms], self.offsets, self.slop, self.gaps, self.reader, self.gap_field)

    def replace(self, minquality: float = 0) -> Any:
        # The span check sits on top of the child: never swap it for a bare copy of the child.
        return self if self.is_active() else matching.NullMatcher()

    def skip_to_quality(self, minquality: float) -> int:
        # Top-N pruning moves the child; the document it lands on must still hold the phrase.
        skipped = self.child.skip_to_quality(minquality)
        self._find_next()
        return skipped

    def _get_spans(self) -> list[Span]:
        positions = [[span.start for span in m.spans()] for m in self.ms]
        found = list(chains(positions, self.offsets, self.slop))
        if self.gaps and found:
            found = [c for c in found if self._gaps_hold(c[0])]
        return [Span(chain[0], chain[-1]) for chain in found]

    def _gaps_hold(self, first: int) -> bool:
        """Whether the current document (a passage; a record, for a title) has each of the
        phrase's function words at its position."""
        docnum = self.id()
        if self.gap_field is not None:
            return all(first + at in _positions(self.reader, self.gap_field, word, docnum) for at, word in self.gaps)
        if self._passage[0] != docnum:
            stored = self.reader.stored_fields(docnum)
            self._passage = (docnum, stored.get("text") or "", decode_words(stored.get("offsets") or b""))
        _, text, words = self._passage
        return gaps_hold(self.gaps, first, text, words)


def _positions(reader: Any, fieldname: str, term: str, docnum: int) -> list[int]:
    """Where ``term`` is in document ``docnum``, read from its postings."""
    if (fieldname, term) not in reader:
        return []
    postings = reader.postings(fieldname, term)
    postings.skip_to(docnum)
    return list(postings.value_as("positions")) if postings.is_active() and postings.id() == docnum else []


def gaps_hold(gaps: Gaps, first: int, text: str, words: Sequence[tuple[int, int]]) -> bool:
    """Whether ``text``, whose words are at ``words`` by position, has each gap's word
    at its offset from position ``first``: a phrase's function words, checked."""
    for at, word in gaps:
        p = first + at
        if not (0 <= p < len(words) and _key_at(text, words, p) == word):
            return False
    return True


def _key_at(text: str, words: Sequence[tuple[int, int]], p: int) -> str:
    """:func:`word_key` of the word at position ``p``."""
    start, end = words[p]
    return word_key(text[start:end])


class TextPhrase(wq.Query):
    """A phrase every word of which can be a function word: found in the stored text.

    The index holds no term for a function word, so ``"avant de lui"``, where
    each of the three is one, has nothing to look up. Its candidates are the
    passages of the documents whose lexicon records every word (``lex_field``,
    written under any lemma or as a function word); each is read and matched
    word by word (``keys``, :func:`word_key`). A match scores a constant 1 (times
    the boost): its words carry no term statistics. (Not 0: Whoosh's unions
    drop what scores 0, and the engine is tested against them.)
    """

    def __init__(self, lex_field: str, folds: Sequence[str], keys: Sequence[str], *, boost: float = 1.0) -> None:
        self.lex_field = lex_field
        self.folds = tuple(folds)
        self.keys = tuple(keys)
        self.boost = boost

    def _key(self) -> tuple[Any, ...]:
        return (self.lex_field, self.folds, self.keys, self.boost)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TextPhrase) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"TextPhrase({self.lex_field!r}, {self.keys!r})"

    def __str__(self) -> str:
        return f"text:\"{' '.join(self.keys)}\""

    def has_terms(self) -> bool:
        return False

    def field(self) -> None:
        return None  # it reads the stored text, and the lexicon of the records

    def normalize(self) -> wq.Query:
        return self if self.keys else wq.NullQuery

    def estimate_size(self, ixreader: Any) -> int:
        return ixreader.doc_count_all()

    def matcher(self, searcher: Any, context: Any = None) -> matching.Matcher:
        ids = text_phrase_matches(searcher.reader(), self)
        return matching.ListMatcher(ids, [self.boost] * len(ids)) if ids else matching.NullMatcher()


def text_phrase_matches(reader: Any, q: TextPhrase, passage: Any = None) -> list[int]:
    """The live passages of a segment ``reader`` that hold ``q``'s words in a row (see :class:`TextPhrase`).

    ``passage(docnum)`` gives a passage's text and word offsets (default: read
    from its stored fields; the engine passes the ones it keeps).
    """
    if q.lex_field not in reader.schema or not reader.doc_count_all():
        return []
    records: set[int] | None = None
    for folded in dict.fromkeys(q.folds):
        having: set[int] = set()
        for btext in reader.expand_prefix(q.lex_field, folded + SEP):
            having.update(reader.postings(q.lex_field, btext).all_ids())
        records = having if records is None else records & having
        if not records:
            return []
    doc_ids = reader.column_reader("doc_id")
    documents = {doc_ids[n] for n in records or ()}
    found = []
    for n in reader.postings("kind", KIND_PASSAGE).all_ids():
        if doc_ids[n] in documents:
            if passage is None:
                stored = reader.stored_fields(n)
                text, words = stored.get("text") or "", decode_words(stored.get("offsets") or b"")
            else:
                text, words = passage(n)
            if text_phrase_at(q.keys, text, words):
                found.append(n)
    return found


def text_phrase_at(keys: Sequence[str], text: str, words: Sequence[tuple[int, int]]) -> list[int]:
    """The positions at which ``text``, whose words are at ``words``, has the words ``keys`` in a row."""
    first, rest = keys[0], keys[1:]
    # The first word alone, inline: most positions fail it, and a generator per position would cost more.
    return [
        p
        for p in range(len(words) - len(keys) + 1)
        if _key_at(text, words, p) == first and all(_key_at(text, words, p + i) == key for i, key in enumerate(rest, start=1))
    ]