"""Drop-in replacements for the few whoosh3 3.54.0 pieces that misbehave.

Each class fixes one bug found while building searchlib, and each has a test
in ``tests/test_whoosh_fixes.py`` that shows the upstream bug and the fix:

* :class:`DisjunctionMax`: the upstream matcher scores a document with the
  best score of *any* sub-matcher, even one positioned on another document.
* :class:`Require`: the upstream matcher's ``skip_to_quality`` trips an
  assertion when its sub-matchers already agree, which top-N pruning hits.
* :class:`Codec`: upstream names new segments with the seedable ``random``
  module, so a program that seeds it reuses a segment name and clobbers it;
  its inlining of short postings lists calls a method that does not exist;
  and an inlined postings list without values reads back a value that
  merging segments refuses.
* :class:`AndNot`: after ``skip_to`` or ``skip_to_quality`` (top-N pruning)
  has exhausted its positive side, the upstream matcher still reads that
  side's id (``IndexError``, or ``NotImplementedError`` from a union of
  exhausted matchers: an entity filter on a function word raised it).

* :func:`add_reader`: upstream adds each merged document's field lengths as
  the byte that stores them, which is approximate, so a merge changes the
  index's total field lengths, the average lengths BM25 divides by, and
  every score; whether a passage ranks above another depended on how its
  segments happened to be merged.

Also avoided rather than replaced: ``searcher.search(..., collapse=...)``.
With ``filter=`` it silently drops the collapsing, and with a ``limit`` it can
return far fewer groups than exist (top-N pruning skips documents that a
collapsed one made room for). searchlib filters with :class:`Require` and
keeps the best passage per document itself.
"""

from __future__ import annotations

import secrets
from typing import Any

from whoosh import matching
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3Codec, W3PostingsWriter, W3Segment
from whoosh.util import IDCHARS

#: Postings lists shorter than this live in the term table (see :class:`Codec`).
INLINE_POSTINGS = 8


class _DisjunctionMaxMatcher(matching.DisjunctionMaxMatcher):
    def score(self) -> float:
        current = self.id()
        scores = [m.score() for m in (self.a, self.b) if m.is_active() and m.id() == current]
        return max(scores)

    def weight(self) -> float:
        current = self.id()
        return max(m.weight() for m in (self.a, self.b) if m.is_active() and m.id() == current)


class DisjunctionMax(wq.DisjunctionMax):
    """Match any subquery; score a document by its best-scoring subquery."""

    def _matcher(self, subs: Any, searcher: Any, context: Any) -> Any:
        reader = searcher.reader()
        return self._tree_matcher(
            subs, _DisjunctionMaxMatcher, searcher, context, lambda q: q.estimate_size(reader), tiebreak=self.tiebreak
        )


class _RequireMatcher(matching.RequireMatcher):
    def skip_to_quality(self, minquality: float) -> int:
        skipped = self.a.skip_to_quality(minquality)
        if self.a.is_active() and self.b.is_active() and self.a.id() != self.b.id():
            self.child._find_next()
        return skipped


class Require(wq.Require):
    """Match documents of ``a`` that ``b`` also matches, scored by ``a`` alone."""

    def matcher(self, searcher: Any, context: Any = None) -> _RequireMatcher:
        scored = self.a.matcher(searcher, context)
        required = self.b.matcher(searcher, searcher.boolean_context())
        return _RequireMatcher(scored, required)


class _AndNotMatcher(matching.AndNotMatcher):
    def _find_next(self) -> bool:
        # Every move of the positive side ends here, exhausted or not.
        if not self.a.is_active():
            return False
        return bool(super()._find_next())

    def skip_to_quality(self, minquality: float) -> int:
        skipped = self.a.skip_to_quality(minquality)
        self._find_next()
        return skipped


class AndNot(wq.AndNot):
    """Match documents of ``a`` that ``b`` does not match, scored by ``a``."""

    def matcher(self, searcher: Any, context: Any = None) -> _AndNotMatcher:
        scored = self.a.matcher(searcher, context)
        excluded = self.b.matcher(searcher, searcher.boolean_context())
        return _AndNotMatcher(scored, excluded)


class _InlinedMatcher(matching.ListMatcher):
    def value(self) -> Any:
        # whoosh3 3.54 keeps no values for a format without any (Existence),
        # and its ListMatcher then gives a str, which merging segments refuses.
        return super().value() if self._values else b""


class _PostingsWriter(W3PostingsWriter):
    def finish_postings(self) -> Any:
        # whoosh3 3.54 inlines a short postings list with terminfo.set_inline,
        # a method W3TermInfo names set_inlined: any inlinelimit above 1 raised.
        self._terminfo.set_inline = self._terminfo.set_inlined
        return super().finish_postings()


class _Segment(W3Segment):
    @classmethod
    def _random_id(cls, size: int = 16) -> str:
        return "".join(secrets.choice(IDCHARS) for _ in range(size))


class Codec(W3Codec):
    """Whoosh's default codec, naming new segments from the OS's entropy, and inlining short postings.

    A term with fewer than :data:`INLINE_POSTINGS` postings keeps them in its
    entry of the term table, instead of a postings list of its own (a header
    and a pickled block, about a hundred bytes): most terms of a passage index
    occur in one or two passages.
    """

    def __init__(self, *, inlinelimit: int = 0) -> None:
        super().__init__(inlinelimit=inlinelimit or INLINE_POSTINGS)

    def new_segment(self, storage: Any, indexname: str) -> _Segment:
        return _Segment(self, indexname)

    def postings_reader(self, dbfile: Any, terminfo: Any, format_: Any, term: Any = None, scorer: Any = None) -> Any:
        if terminfo.is_inlined():
            ids, weights, values = terminfo.inlined_postings()
            return _InlinedMatcher(ids, weights, values, format_, scorer=scorer, term=term, terminfo=terminfo)
        return super().postings_reader(dbfile, terminfo, format_, term=term, scorer=scorer)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> _PostingsWriter:
        return _PostingsWriter(
            dbfile, blocklimit=self._blocklimit, byteids=byteids, compression=self._compression, inlinelimit=self._inlinelimit
        )


def add_reader(writer: Any, reader: Any) -> None:
    """``writer.add_reader(reader)``, keeping the exact total field lengths of a segment without deletions.

    A segment records the exact total of each field's lengths, and a byte per
    document that approximates its length. Upstream's merge sums the bytes.
    With no deletion the exact totals are known: they replace the sums, and
    the merged index has the statistics of the unmerged one. A deleted
    document's exact lengths are not kept anywhere, so a segment with
    deletions still adds the approximations.
    """
    totals = writer.perdocwriter._fieldlengths
    before = dict(totals)
    writer.add_reader(reader)
    if not reader.has_deletions():
        for name in list(totals):
            totals[name] = before.get(name, 0) + reader.field_length(name)
