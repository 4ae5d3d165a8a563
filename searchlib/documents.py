"""Queries on document records, whose matches are carried to the documents' passages.

A document's title is indexed once, on its record (see :mod:`searchlib.schema`),
not on each of its passages. A search still ranks passages, so a title match
is carried to them: a plain word found in a title makes the document's first
passage (its ``lead``) a hit with the title's score, and ``title:`` selects
every passage of the documents whose title matches.

A record and its passages are written in one batch, so they always share a
segment: the carrying is done segment by segment.
"""

from __future__ import annotations

import copy

from collections.abc import Iterator
from typing import Any

from whoosh import matching
from whoosh import query as wq

from .schema import KIND_DOC, LEAD

LEAD_PASSAGE = "lead"
EVERY_PASSAGE = "every"


class DocumentQuery(wq.Query):
    """Match the passages (the lead one, or every one) of the documents whose record matches ``query``.

    Each passage gets its record's score for ``query``.
    """

    def __init__(self, query: wq.Query, *, passages: str = LEAD_PASSAGE) -> None:
        if passages not in (LEAD_PASSAGE, EVERY_PASSAGE):
            raise ValueError(f"passages must be {LEAD_PASSAGE!r} or {EVERY_PASSAGE!r}, not {passages!r}")
        self.query = query
        self.passages = passages
        self.boost = 1.0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DocumentQuery) and (self.query, self.passages) == (other.query, other.passages)

    def __hash__(self) -> int:
        return hash((self.query, self.passages))

    def __repr__(self) -> str:
        return f"DocumentQuery({self.query!r}, passages={self.passages!r})"

    def __str__(self) -> str:
        return f"{self.passages}-passages-of({self.query})"

    def is_leaf(self) -> bool:
        return False

    def field(self) -> None:
        return None  # its fields are the records', not the passages'

    def children(self) -> Iterator[wq.Query]:
        yield self.query

    def apply(self, fn: Any) -> DocumentQuery:
        return DocumentQuery(fn(self.query), passages=self.passages)

    def normalize(self) -> wq.Query:
        inner = self.query.normalize()
        return wq.NullQuery if inner is wq.NullQuery else DocumentQuery(inner, passages=self.passages)

    def with_boost(self, boost: float) -> DocumentQuery:
        return DocumentQuery(reboosted(self.query, self.query.boost * boost), passages=self.passages)

    def estimate_size(self, ixreader: Any) -> int:
        return self.query.estimate_size(ixreader)

    def matcher(self, searcher: Any, context: Any = None) -> matching.Matcher:
        """The carried matches, computed with Whoosh's matchers (the engine computes them with arrays)."""
        reader = searcher.reader()
        scored: dict[str, float] = {}
        doc_ids = reader.column_reader("doc_id") if reader.doc_count_all() else None
        found = self.query.matcher(searcher, context or searcher.context())
        while found.is_active():
            scored[doc_ids[found.id()]] = found.score()
            found.next()
        if not scored:
            return matching.NullMatcher()
        chosen = wq.Term("lead", LEAD) if self.passages == LEAD_PASSAGE else wq.Not(wq.Term("kind", KIND_DOC))
        ids = [n for n in chosen.docs(searcher) if doc_ids[n] in scored]
        if not ids:
            return matching.NullMatcher()
        return matching.ListMatcher(ids, [1.0] * len(ids), scorer=_Listed([scored[doc_ids[n]] for n in ids], ids))


class _Listed:
    """The scorer of a :class:`~whoosh.matching.ListMatcher` whose scores are given."""

    def __init__(self, scores: list[float], ids: list[int]) -> None:
        self._scores = dict(zip(ids, scores))
        self._max = max(scores)

    def score(self, matcher: Any) -> float:
        return self._scores[matcher.id()]

    def supports_block_quality(self) -> bool:
        return False

    def max_quality(self) -> float:
        return self._max

    def block_quality(self, matcher: Any) -> float:
        return self._max


def reboosted(q: wq.Query, boost: float) -> wq.Query:
    """``q`` with ``boost``, as ``q.with_boost(boost)`` gives it, without Whoosh's deep copy.

    A compiled tree is built for one search and never changed, so its
    subqueries can be shared; a query whose ``with_boost`` passes the boost
    on to its parts keeps its own.
    """
    if boost == q.boost:
        return q
    if type(q).with_boost is not wq.Query.with_boost:
        return q.with_boost(boost)
    q = copy.copy(q)
    q.boost = boost
    return q
