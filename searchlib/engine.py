"""Stage 6: a compiled query → every matching passage's score, with arrays; then the top k.

A query compiles into a tree of Whoosh queries (see :mod:`searchlib.query`).
Whoosh would score it one posting at a time, through a tree of matchers in
Python. Here the same tree is evaluated one *node* at a time with NumPy, for
every matching passage at once, and gives the same scores:

* a term's postings are decoded a block at a time into document numbers and
  term frequencies, and kept per segment (segments never change once written,
  so the cache outlives commits); its BM25 score is computed for all its
  postings in one expression, with the field lengths of the segment as an
  array and the statistics of :func:`searchlib.ranking.term_parameters`;
* ``Or`` adds its parts' scores where they match, ``DisjunctionMax`` keeps the
  best, ``And`` adds where all match, ``AndNot``, ``Require`` and ``AndMaybe``
  filter or add as their matchers do; a boost multiplies;
* a prefix or a wildcard (scored, as searchlib compiles them) expands to
  the segment's terms it matches, each scored as a term, the scores added,
  as Whoosh's ``MultiTerm`` matcher does (a fuzzy term is expanded when the
  query is compiled: see ``Vocabulary.within``);
* a phrase intersects its slots' postings as arrays, then reads positions
  (and, for its function words, the stored text) only for the passages that
  hold every slot;
* anything else (``NOT`` alone) is left to Whoosh's own matcher for that
  node, walked to the end.

Scoring every match is what makes the top k exact: the document-level
evidence of each passage is added before ranking, and ties go to index order,
so the first k hits of any deeper search are the top k. Deleted documents are
left out, as Whoosh's matchers leave them out.

The caches are shared by every thread that searches one :class:`Engine`;
their bookkeeping is guarded by a lock, and their arrays are never written
once made.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.columns import NumericColumn, TranslatingColumnReader, VarBytesColumn
from whoosh.query.compound import DefaultOr, PreloadedOr, SplitOr
from whoosh.util.numeric import _length_byte_cache

from . import whoosh_fixes
from .blocks import Values, decode_data, decode_list
from .documents import LEAD_PASSAGE, DocumentQuery
from .phrases import Phrase, TextPhrase, gaps_hold, text_phrase_at
from .ranking import BM25Parameters, term_parameters
from .schema import KIND_DOC, LEAD, SEP, WordOffsets
from .wordtable import EMPTY as EMPTY_PLACES
from .wordtable import SHIFT, WordTable, decode_places, member

#: Bytes of decoded postings and columns kept per engine (least recently used go first).
CACHE_BYTES = 256 * 1024 * 1024

_IDS = np.int64
_EMPTY_IDS = np.empty(0, dtype=_IDS)
_EMPTY_SCORES = np.empty(0, dtype=np.float64)
_EMPTY_WEIGHTS = _EMPTY_SCORES
_NO_BLOCKS = np.empty((0, 4), dtype=_IDS)
_POSITION = (1 << SHIFT) - 1
_UNSEEN = object()
_LENGTHS = np.array(_length_byte_cache, dtype=np.float64)
# Exact classes, not isinstance(): a subclass may mean something else
# (Sequence, for one, is a compound query of positions).
_UNION = {wq.Or, DefaultOr, SplitOr, PreloadedOr}
_MAX = {whoosh_fixes.DisjunctionMax}
_REQUIRE = {wq.Require, whoosh_fixes.Require}
_AND_NOT = {wq.AndNot, whoosh_fixes.AndNot}
_MULTI_TERM = {wq.Prefix, wq.Wildcard}

Scored = tuple[np.ndarray, np.ndarray]  # sorted segment docnums, and their scores
Ranked = tuple[int, float, str]  # (docnum, score, doc_id)


class _Statistics:
    """A reader's index-wide counts, looked up once: Whoosh reads each from every segment's term table."""

    def __init__(self, reader: Any) -> None:
        self.schema = reader.schema
        self._reader = reader
        self._frequencies: dict[tuple[str, Any], int] = {}
        self._lengths: dict[str, int] = {}
        self._parameters: dict[tuple[str, str, bytes], BM25Parameters | None] = {}
        self._count = reader.doc_count_all()

    def parameters(self, weighting: Any, key: str, fieldname: str, text: bytes) -> BM25Parameters | None:
        """A term's BM25 parameters under ``weighting`` (whose settings ``key`` names), computed once per reader."""
        found = self._parameters.get((key, fieldname, text), _UNSEEN)
        if found is _UNSEEN:
            found = self._parameters[(key, fieldname, text)] = term_parameters(weighting, self, fieldname, text)
        return found

    def doc_frequency(self, fieldname: str, text: Any) -> int:
        key = (fieldname, text)
        found = self._frequencies.get(key)
        if found is None:
            found = self._frequencies[key] = self._reader.doc_frequency(fieldname, text)
        return found

    def field_length(self, fieldname: str) -> int:
        found = self._lengths.get(fieldname)
        if found is None:
            found = self._lengths[fieldname] = self._reader.field_length(fieldname)
        return found

    def doc_count_all(self) -> int:
        return self._count


@dataclass
class _Run:
    """One ranking: the weighting, the reader's counts, and each term's parameters once."""

    weighting: Any
    statistics: _Statistics
    #: The weighting's settings, which name its terms' parameters in ``statistics``.
    weighting_key: str
    #: Per query term ``(field, text)``: its parameters, and its text as the index stores it.
    parameters: dict[tuple[str, str], BM25Parameters | None] = field(default_factory=dict)
    texts: dict[tuple[str, str], bytes | None] = field(default_factory=dict)


@dataclass(frozen=True)
class _Segment:
    """One segment of the reader being searched, as the engine sees it."""

    searcher: Any
    reader: Any
    offset: int
    size: int
    #: Where the segment's cached arrays live: its id, unique in the index.
    key: str
    #: Deleted documents, as a mask over the segment's docnums (None: none).
    deleted: np.ndarray | None


class Engine:
    """Scores queries on the readers of one index, keeping decoded postings between searches."""

    def __init__(self, *, cache_bytes: int = CACHE_BYTES) -> None:
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._bytes = 0
        self._sizes: dict[tuple[Any, ...], int] = {}
        self._lock = threading.Lock()
        # doc_id → ordinal, shared by all segments, so that a passage finds
        # its document's record wherever it is.
        self._ordinals: dict[str, int] = {}
        self._doc_ids: list[str] = []
        self._statistics: weakref.WeakKeyDictionary[Any, _Statistics] = weakref.WeakKeyDictionary()
        # Passages that phrases have read one by one, by segment, since its
        # word table was last made; the segments whose table does not fit the cache.
        self._reads: dict[str, int] = {}
        self._unbuilt: set[str] = set()

    # -- ranking -------------------------------------------------------------

    def rank(
        self,
        searcher: Any,
        query: wq.Query,
        document_terms: Sequence[wq.Query],
        document_weight: float,
        *,
        limit: int,
        per_doc: bool,
    ) -> tuple[list[Ranked], int]:
        """The top ``limit`` passages (best per document with ``per_doc``), and how many match.

        A passage's score is its own, plus ``document_weight`` times its
        document's: the sum of ``document_terms`` scored on the document's
        record. Ties go to the lower docnum.
        """
        segments = self._segments(searcher)
        run = _Run(searcher.weighting, self._statistics_of(searcher.reader()), _settings(searcher.weighting))
        found = [(segment, *self._eval(query, segment, run)) for segment in segments]
        keys = [self._keys(segment)[ids] for segment, ids, _ in found]
        if document_terms and document_weight:
            totals = np.zeros(len(self._doc_ids))
            for segment in segments:
                for term in document_terms:
                    ids, scores = self._eval(term, segment, run)
                    np.add.at(totals, self._keys(segment)[ids], scores)
            scores = [s + document_weight * totals[k] for (_, _, s), k in zip(found, keys)]
        else:
            scores = [s for _, _, s in found]
        docnums = np.concatenate([segment.offset + ids for segment, ids, _ in found] or [_EMPTY_IDS])
        score = np.concatenate(scores or [_EMPTY_SCORES])
        key = np.concatenate(keys or [_EMPTY_IDS])
        if per_doc and len(docnums):
            # Best passage of each document: by score, then index order.
            order = np.lexsort((docnums, -score, key))
            first = np.ones(len(order), dtype=bool)
            first[1:] = key[order][1:] != key[order][:-1]
            best = order[first]
            docnums, score, key = docnums[best], score[best], key[best]
        top = _top(score, docnums, limit)
        return [(int(docnums[i]), float(score[i]), self._doc_ids[key[i]]) for i in top], len(docnums)

    # -- the query tree --------------------------------------------------------

    def _eval(self, q: wq.Query, segment: _Segment, run: _Run) -> Scored:
        kind = type(q)
        if q is wq.NullQuery or kind is type(wq.NullQuery):
            return _EMPTY_IDS, _EMPTY_SCORES
        if kind is wq.Term:
            ids, scores = self._term(q, segment, run)
        elif kind in _UNION and not (q.minmatch or q.scale):
            ids, scores = _union([self._eval(s, segment, run) for s in q.subqueries], segment.size, np.add)
        elif kind in _MAX:
            ids, scores = _union([self._eval(s, segment, run) for s in q.subqueries], segment.size, np.maximum)
        elif kind is wq.And:
            ids, scores = _intersection([self._eval(s, segment, run) for s in q.subqueries])
        elif kind in _AND_NOT:
            ids, scores = self._eval(q.a, segment, run)
            excluded, _ = self._eval(q.b, segment, run)
            keep = ~np.isin(ids, excluded, assume_unique=True)
            return ids[keep], scores[keep]
        elif kind in _REQUIRE:
            ids, scores = self._eval(q.a, segment, run)
            required, _ = self._eval(q.b, segment, run)
            keep = np.isin(ids, required, assume_unique=True)
            return ids[keep], scores[keep]
        elif kind in _MULTI_TERM and not q.constantscore:
            ids, scores = self._expanded(q, segment, run)
        elif kind is Phrase:
            ids, scores = self._phrase(q, segment, run)
        elif kind is TextPhrase:
            ids = self._text_phrase(q, segment)
            return ids, np.full(len(ids), q.boost)
        elif kind is DocumentQuery:
            return self._documents(q, segment, run)
        elif kind is wq.AndMaybe:
            ids, scores = self._eval(q.a, segment, run)
            extra_ids, extra = self._eval(q.b, segment, run)
            at = np.searchsorted(extra_ids, ids)
            hit = at < len(extra_ids)
            hit[hit] = extra_ids[at[hit]] == ids[hit]
            scores = scores.copy()
            scores[hit] += extra[at[hit]]
            return ids, scores
        else:
            return _walk(q, segment)
        boost = getattr(q, "boost", 1.0)
        return ids, (scores * boost if boost != 1.0 else scores)

    def _term(self, q: wq.Term, segment: _Segment, run: _Run) -> Scored:
        fieldname = q.fieldname
        key = (fieldname, q.text)
        text = run.texts.get(key, _UNSEEN)
        if text is _UNSEEN:
            text = run.texts[key] = _term_bytes(segment.reader.schema, fieldname, q.text)
        if text is None:
            return _EMPTY_IDS, _EMPTY_SCORES
        ids, weights, _ = self._postings(segment, fieldname, text)
        if not len(ids):
            return _EMPTY_IDS, _EMPTY_SCORES
        if segment.deleted is not None:
            live = ~segment.deleted[ids]
            ids, weights = ids[live], weights[live]
        p = run.parameters.get(key, _UNSEEN)
        if p is _UNSEEN:
            p = run.parameters[key] = run.statistics.parameters(run.weighting, run.weighting_key, fieldname, text)
        if p is None:
            return ids, weights.astype(np.float64)
        # Whoosh's bm25(), term for term, so that the scores are the same:
        # idf * (tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * length / avgfl)),
        # the part of the divisor that is the passage's own computed once per segment.
        norms = self._cached(("norms", segment.key, fieldname, p.k1, p.b, p.avgfl), lambda: _norms(segment.reader, fieldname, p))
        return ids, p.idf * ((weights * (p.k1 + 1)) / (weights + norms[ids]))

    def _phrase(self, q: Phrase, segment: _Segment, run: _Run) -> Scored:
        """The passages where the phrase's slots occur in order (boost not applied).

        Scored as Whoosh's phrase matcher scores them, the sum of the slots'
        term scores. The passages that hold every slot are found with arrays,
        then the slots' places in them (see :mod:`searchlib.wordtable`) are
        chained, and the function words of an exact phrase checked, with arrays too.
        """
        slots = [_union([self._term(wq.Term(q.fieldname, t), segment, run) for t in terms], segment.size, np.add) for _, terms in q.slots]
        ids, scores = _intersection(slots)
        if not len(ids):
            return ids, scores
        places = []
        for _, terms in q.slots:
            found = [self._term_places(segment, q.fieldname, t.encode("utf-8")) for t in terms]
            slot = found[0] if len(found) == 1 else np.unique(np.concatenate(found))
            places.append(slot[member(slot >> SHIFT, ids)])
        starts = _chain_starts(places, [offset for offset, _ in q.slots], q.slop)
        if q.gaps and q.gap_field is not None:
            for at, word in q.gaps:
                starts = starts[member(starts + at, self._term_places(segment, q.gap_field, word.encode("utf-8")))]
        elif q.gaps and len(starts):
            starts = self._gaps_hold(q.gaps, segment, starts)
        keep = member(ids, np.unique(starts >> SHIFT))
        return ids[keep], scores[keep]

    def _gaps_hold(self, gaps: Sequence[tuple[int, str]], segment: _Segment, starts: np.ndarray) -> np.ndarray:
        """Those of a phrase's ``starts`` (places) that have each of its function words at its offset."""
        table = self._word_table(segment, len(np.unique(starts >> SHIFT)))
        if table is None:
            keep = [gaps_hold(gaps, s & _POSITION, *self._passage_words(segment, s >> SHIFT)) for s in starts.tolist()]
            return starts[np.array(keep, dtype=bool)]
        for at, word in gaps:
            starts = starts[member(starts + at, table.places(word))]
        return starts

    def _text_phrase(self, q: TextPhrase, segment: _Segment) -> np.ndarray:
        """The live passages that hold a phrase of function words (see :class:`TextPhrase`).

        The candidates are the reference's, the passages of the documents whose
        lexicon records every word; the phrase is found in them with the
        segment's :class:`WordTable`, or by reading them (see :meth:`_word_table`).
        """
        reader = segment.reader
        if q.lex_field not in reader.schema:
            return _EMPTY_IDS
        records: np.ndarray | None = None
        for folded in dict.fromkeys(q.folds):
            having = [self._postings(segment, q.lex_field, t)[0] for t in reader.expand_prefix(q.lex_field, folded + SEP)]
            ids = np.unique(np.concatenate(having)) if having else _EMPTY_IDS
            records = ids if records is None else np.intersect1d(records, ids, assume_unique=True)
            if not len(records):
                return _EMPTY_IDS
        keys = self._keys(segment)
        passages = self._passages(segment)
        if segment.deleted is not None:
            records = records[~segment.deleted[records]]
            passages = passages[~segment.deleted[passages]]
        candidates = passages[np.isin(keys[passages], keys[records])]
        table = self._word_table(segment, len(candidates))
        if table is None:
            found = [n for n in candidates.tolist() if text_phrase_at(q.keys, *self._passage_all_words(segment, n))]
            return np.array(found, dtype=_IDS)
        found = table.phrase(q.keys)
        return found[member(found, candidates)]

    def _word_table(self, segment: _Segment, reads: int) -> WordTable | None:
        """The segment's :class:`WordTable`, or None: read the ``reads`` passages one by one.

        Making the table costs a few readings of every passage of the segment
        (about 1 s for 40k passages, where a phrase's check reads a passage in
        7 µs). So it is made once the passages that phrases have read one by
        one since the last one was made (these ``reads`` included) are as many
        as the segment's, as one rents skis until the rent would have bought
        them: a process pays a few times the best choice at most, and one that
        asks a single rare phrase (the command line) never makes it. A table too
        big for the cache is used once, and not made again.
        """
        table = self._kept(("words", segment.key))
        if table is not None:
            return table
        passages = self._passages(segment)
        with self._lock:
            read = self._reads.get(segment.key, 0) + reads
            if segment.key in self._unbuilt or read < len(passages):
                self._reads[segment.key] = read
                return None
            self._reads[segment.key] = 0
        table = WordTable.build((n, *_stored_passage(segment.reader, n)) for n in passages.tolist())
        if 2 * table.nbytes > self._cache_bytes:
            with self._lock:
                self._unbuilt.add(segment.key)
            return table
        return self._cached(("words", segment.key), lambda: table, size=lambda t: t.nbytes)

    def _term_places(self, segment: _Segment, fieldname: str, text: bytes) -> np.ndarray:
        """Every place of a term in the segment (deleted documents included), ascending."""

        def make() -> np.ndarray:
            ids, _, blocks = self._postings(segment, fieldname, text)
            if not len(ids):
                return EMPTY_PLACES
            if not len(blocks):
                _, _, values = segment.reader.term_info(fieldname, text).inlined_postings()
                ends = np.cumsum([len(v) for v in values])
                return decode_places(ids, b"".join(values), ends)
            fixed = segment.reader.schema[fieldname].format.fixed_value_size()
            parts, ends, done = [], [], 0
            for _, start, end, compressed in blocks.tolist():
                values = decode_data(segment.reader._terms._postfile.get(start, end - start), bool(compressed), fixed)[2]
                parts.append(values.data)
                ends.append(values.ends + done)
                done += len(values.data)
            return decode_places(ids, b"".join(parts), np.concatenate(ends))

        return self._cached(("places", segment.key, fieldname, text), make)

    def _positions_at(self, segment: _Segment, fieldname: str, text: bytes, local: np.ndarray) -> dict[int, list[int]]:
        """Where a term occurs in those of the segment's docnums ``local`` (ascending) that hold it."""
        ids, _, blocks = self._postings(segment, fieldname, text)
        if not len(ids):
            return {}
        at = np.minimum(np.searchsorted(ids, local), len(ids) - 1)
        hit = ids[at] == local
        if not hit.any():
            return {}
        found: dict[int, list[int]] = {}
        if len(blocks):
            # Straight to the block that holds each posting, by its place in the list.
            decode = segment.reader.schema[fieldname].format.decode_positions
            places = at[hit]
            numbers = np.searchsorted(blocks[:, 0], places, side="right") - 1
            for i, n, b in zip(places.tolist(), local[hit].tolist(), numbers.tolist()):
                values = self._block_values(segment, fieldname, text, b, blocks[b])
                found[n] = decode(values[i - int(blocks[b, 0])])
            return found
        matcher = segment.reader.postings(fieldname, text)
        for n in local[hit].tolist():
            matcher.skip_to(n)
            if matcher.is_active() and matcher.id() == n:
                found[n] = list(matcher.value_as("positions"))
        return found

    def _passage_words(self, segment: _Segment, docnum: int) -> tuple[str, WordOffsets]:
        """A passage's text and its words' offsets, by position (stored fields, kept)."""

        text, offsets = self._cached(("passage", segment.key, docnum), lambda: _stored_passage(segment.reader, docnum), size=_passage_size)
        return text, WordOffsets(offsets)

    def _passage_all_words(self, segment: _Segment, docnum: int) -> tuple[str, list[tuple[int, int]]]:
        """:meth:`_passage_words`, every word's offsets decoded (for a scan of the whole passage)."""
        text, words = self._passage_words(segment, docnum)
        return text, words.decoded()

    def _expanded(self, q: wq.MultiTerm, segment: _Segment, run: _Run) -> Scored:
        """The terms of this segment that ``q`` matches, each scored as a term, summed (boost not applied)."""
        fieldname = q.field()
        if fieldname not in segment.reader.schema:
            return _EMPTY_IDS, _EMPTY_SCORES
        terms = [wq.Term(fieldname, text.decode("utf-8")) for text in q._btexts(segment.reader) if text]
        return _union([self._term(t, segment, run) for t in terms], segment.size, np.add)

    def _documents(self, q: DocumentQuery, segment: _Segment, run: _Run) -> Scored:
        """The records ``q.query`` matches, carried to their documents' passages in this segment."""
        records, scores = self._eval(q.query, segment, run)
        if not len(records):
            return _EMPTY_IDS, _EMPTY_SCORES
        keys = self._keys(segment)
        matched = keys[records]
        order = np.argsort(matched)
        matched, scores = matched[order], scores[order]
        targets = self._term_ids(segment, "lead", LEAD) if q.passages == LEAD_PASSAGE else self._passages(segment)
        at = np.searchsorted(matched, keys[targets])
        at[at == len(matched)] = 0
        hit = matched[at] == keys[targets]
        if segment.deleted is not None:
            hit &= ~segment.deleted[targets]
        return targets[hit], scores[at[hit]]

    def _term_ids(self, segment: _Segment, fieldname: str, text: str) -> np.ndarray:
        """A term's segment docnums, deleted ones included."""
        return self._postings(segment, fieldname, text.encode("utf-8"))[0]

    def _postings(self, segment: _Segment, fieldname: str, text: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A term's segment docnums (deleted ones included), weights and blocks (see :func:`_postings`); empty if the segment lacks it.

        Kept per segment, absent terms too: a lookup in a segment's term
        table costs more than most of a term's scoring.
        """

        def make() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            if (fieldname, text) not in segment.reader:
                return _EMPTY_IDS, _EMPTY_WEIGHTS, _NO_BLOCKS
            return _postings(segment.reader, fieldname, text)

        return self._cached(("postings", segment.key, fieldname, text), make)

    def _passages(self, segment: _Segment) -> np.ndarray:
        def make() -> np.ndarray:
            every = np.arange(segment.size, dtype=_IDS)
            return np.setdiff1d(every, self._term_ids(segment, "kind", KIND_DOC), assume_unique=True)

        return self._cached(("passages", segment.key), make)

    def positions(
        self, searcher: Any, terms: Iterable[tuple[str, str]], docnums: Sequence[int]
    ) -> dict[int, dict[tuple[str, str], list[int]]]:
        """Where each term occurs in each of ``docnums``: its positions, read only where the term is.

        The decoded postings say which documents hold a term, and where in
        its list: a term's positions are read only in the segments, and from
        the blocks, that hold them, each block unpickled once and kept.
        """
        found: dict[int, dict[tuple[str, str], list[int]]] = {}
        wanted = sorted(set(docnums))
        segments = [(segment, np.array([n - segment.offset for n in wanted if segment.offset <= n < segment.offset + segment.size], dtype=_IDS))
                    for segment in self._segments(searcher)]
        for fieldname, term in terms:
            btext = term.encode("utf-8")
            for segment, local in segments:
                if not len(local):
                    continue
                for n, where in self._positions_at(segment, fieldname, btext, local).items():
                    found.setdefault(segment.offset + n, {})[(fieldname, term)] = where
        return found

    def _block_values(self, segment: _Segment, fieldname: str, text: bytes, number: int, block: np.ndarray) -> Values:
        """The encoded values (positions) of one postings block, read once and kept."""

        def make() -> Values:
            _, start, end, compressed = block.tolist()
            data = segment.reader._terms._postfile.get(start, end - start)
            return decode_data(data, bool(compressed), segment.reader.schema[fieldname].format.fixed_value_size())[2]

        return self._cached(("values", segment.key, fieldname, text, number), make, size=_values_size)

    def records(self, searcher: Any, doc_ids: Sequence[str]) -> dict[str, int]:
        """The docnum of each document's record, by id (the ones of live documents)."""
        wanted = np.array(sorted({self._ordinals[d] for d in doc_ids if d in self._ordinals}), dtype=_IDS)
        found: dict[str, int] = {}
        for segment in self._segments(searcher):
            keys, records = self._records(segment)
            at = np.searchsorted(keys, wanted)
            at[at == len(keys)] = 0
            for i in np.flatnonzero(keys[at] == wanted) if len(keys) else ():
                n = records[at[i]]
                if segment.deleted is None or not segment.deleted[n]:
                    found[self._doc_ids[wanted[i]]] = segment.offset + int(n)
        return found

    def _records(self, segment: _Segment) -> tuple[np.ndarray, np.ndarray]:
        """The segment's document records: their ordinals, sorted, and their docnums."""

        def make() -> tuple[np.ndarray, np.ndarray]:
            records = self._term_ids(segment, "kind", KIND_DOC)
            keys = self._keys(segment)[records]
            order = np.argsort(keys, kind="stable")
            return keys[order], records[order]

        return self._cached(("records", segment.key), make)

    # -- segments and caches ----------------------------------------------------

    def _statistics_of(self, reader: Any) -> _Statistics:
        with self._lock:
            found = self._statistics.get(reader)
            if found is None:
                found = self._statistics[reader] = _Statistics(reader)
            return found

    def _segments(self, searcher: Any) -> list[_Segment]:
        segments = []
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            size = reader.doc_count_all()
            if not size:
                continue
            key = reader.segment().segment_id() if reader.segment() is not None else f"reader-{id(reader)}"
            deleted = None
            if reader.has_deletions():
                deleted = np.zeros(size, dtype=bool)
                deleted[np.fromiter(reader.deleted_docs_set, dtype=_IDS)] = True
            segments.append(_Segment(sub, reader, offset, size, key, deleted))
        return segments

    def _keys(self, segment: _Segment) -> np.ndarray:
        """Each docnum's document ordinal: the same for a document's passages and record."""

        def make() -> np.ndarray:
            values = _column_values(segment.reader, "doc_id", segment.size)
            with self._lock:
                ordinals, ids = self._ordinals, self._doc_ids
                keys = np.empty(segment.size, dtype=_IDS)
                previous, ordinal = None, -1
                for n, value in enumerate(values):
                    # A document's passages and record are neighbours: most values repeat the one before.
                    if value != previous:
                        ordinal = ordinals.get(value, -1)
                        if ordinal < 0:
                            ordinal = ordinals[value] = len(ids)
                            ids.append(value)
                        previous = value
                    keys[n] = ordinal
            return keys

        return self._cached(("keys", segment.key), make)

    def _kept(self, key: tuple[Any, ...]) -> Any:
        """What is kept under ``key``, or None; made by no one."""
        with self._lock:
            value = self._cache.get(key)
            if value is not None:
                self._cache.move_to_end(key)
            return value

    def _cached(self, key: tuple[Any, ...], make: Any, size: Any = None) -> Any:
        """``make()``, kept under ``key`` (least recently used go first); ``size(value)`` its bytes (default: its arrays')."""
        size = size or _array_size
        with self._lock:
            value = self._cache.get(key)
            if value is not None:
                self._cache.move_to_end(key)
                return value
        # Made outside the lock: two threads may both make it, and one wins.
        value = make()
        with self._lock:
            if key not in self._cache:
                self._cache[key] = value
                self._sizes[key] = nbytes = size(value)
                self._bytes += nbytes
                while self._bytes > self._cache_bytes and len(self._cache) > 1:
                    old, _ = self._cache.popitem(last=False)
                    self._bytes -= self._sizes.pop(old)
        return value


def _array_size(value: Any) -> int:
    # An absent term costs its key, not nothing: it counts as a small array.
    return max(sum(a.nbytes for a in value) if isinstance(value, tuple) else value.nbytes, 64)


def _stored_passage(reader: Any, docnum: int) -> tuple[str, bytes]:
    """A passage's stored text and encoded word offsets."""
    stored = reader.stored_fields(docnum)
    return stored.get("text") or "", stored.get("offsets") or b""


def _passage_size(passage: tuple[str, bytes]) -> int:
    text, offsets = passage
    return 128 + 2 * len(text) + len(offsets)


def _values_size(values: Values) -> int:
    return 64 + values.nbytes


def _postings(reader: Any, fieldname: str, text: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A term's segment docnums (deleted ones included) and weights, with its blocks (see :func:`searchlib.blocks.decode_list`).

    No rows of blocks for postings kept in the term table.
    """
    info = reader.term_info(fieldname, text)
    if info.is_inlined():
        ids, weights, _ = info.inlined_postings()
        return np.asarray(ids, dtype=_IDS), np.asarray(weights, dtype=np.float64), _NO_BLOCKS
    offset, length = info.extent()
    return decode_list(reader._terms._postfile.get(offset, length), offset)


def _settings(weighting: Any) -> str:
    """What a weighting's scores depend on besides the index: its class and settings (Ranking makes a new one per search)."""
    return f"{type(weighting).__qualname__}{sorted(vars(weighting).items())!r}"


def _term_bytes(schema: Any, fieldname: str, text: str) -> bytes | None:
    """A query term's text as the index stores it; None if the field is not the index's or cannot hold it."""
    if fieldname not in schema:
        return None
    try:
        return schema[fieldname].to_bytes(text)
    except ValueError:
        return None


def _norms(reader: Any, fieldname: str, p: BM25Parameters) -> np.ndarray:
    """``k1 * ((1 - b) + b * length / avgfl)`` for each document of the segment, in bm25()'s order of operations."""
    return p.k1 * ((1 - p.b) + p.b * _field_lengths(reader, fieldname) / p.avgfl)


def _field_lengths(reader: Any, fieldname: str) -> np.ndarray:
    """Each document's length in ``fieldname``, as Whoosh stores it (one byte, decoded)."""
    perdoc = reader._perdoc
    column = _lenfield(fieldname)
    if not perdoc.has_column(column):
        return np.zeros(reader.doc_count_all())
    lengths = perdoc.column_reader(column, LENGTHS_COLUMN)
    size = reader.doc_count_all()
    if isinstance(lengths, NumericColumn.Reader) and lengths._fixedlen == 1:
        # One byte a document, read at once: Whoosh's load() reads them one call each.
        encoded = np.full(size, lengths._default, dtype=np.uint8)
        stored = np.frombuffer(lengths._dbfile.get(lengths._basepos, min(lengths._count, size)), dtype=np.uint8)
        encoded[: len(stored)] = stored
    else:
        encoded = np.asarray(lengths.load(), dtype=np.uint8)
    return _LENGTHS[encoded]


def _column_values(reader: Any, fieldname: str, size: int) -> list[str]:
    """Every document's value of a text column, read at once where Whoosh reads one call each."""
    column = reader.column_reader(fieldname)
    raw = column.raw_column() if isinstance(column, TranslatingColumnReader) else None
    if not isinstance(raw, VarBytesColumn.Reader):
        return [column[n] for n in range(size)]
    lengths = np.asarray(raw._lengths, dtype=np.int64)
    ends = np.cumsum(lengths)
    if not np.array_equal(np.asarray(raw._offsets, dtype=np.int64), ends - lengths):
        return [column[n] for n in range(size)]
    data = raw._dbfile.get(raw._basepos, int(ends[-1]) if len(ends) else 0)
    decode = reader.schema[fieldname].from_column_value
    found = [decode(data[end - length : end]) for end, length in zip(ends.tolist(), lengths.tolist())]
    return found + [column[n] for n in range(len(found), size)]


def _walk(q: wq.Query, segment: _Segment) -> Scored:
    """Whoosh's own matcher for ``q``, walked to the end: its matches and scores."""
    matcher = q.matcher(segment.searcher, segment.searcher.context())
    ids, scores = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        scores.append(matcher.score())
        matcher.next()
    return np.asarray(ids, dtype=_IDS), np.asarray(scores, dtype=np.float64)


def _union(parts: list[Scored], size: int, combine: Any) -> Scored:
    """The documents any part matches; ``combine`` (add, maximum) their scores."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return _EMPTY_IDS, _EMPTY_SCORES
    if len(parts) == 1:
        return parts[0]
    if combine is np.add:
        total = np.zeros(size)
    else:
        total = np.full(size, -np.inf)
    matched = np.zeros(size, dtype=bool)
    for ids, scores in parts:
        # A part's ids are unique: fancy indexing adds each score once.
        total[ids] = combine(total[ids], scores)
        matched[ids] = True
    ids = np.flatnonzero(matched)
    return ids, total[ids]


def _chain_starts(places: list[np.ndarray], offsets: list[int], slop: int) -> np.ndarray:
    """The places (ascending, unique) where a phrase's slots start a chain: each
    slot at its offset from the one before, up to ``slop - 1`` further (see
    :func:`searchlib.phrases.chains`). ``places[k]`` are slot ``k``'s.
    """
    extra = max(slop, 1) - 1
    starts = ends = places[0]
    for k in range(1, len(places)):
        gap = offsets[k] - offsets[k - 1]
        found = [(starts[hit], wanted[hit]) for d in range(extra + 1)
                 for wanted in [ends + gap + d] for hit in [member(wanted, places[k])]]
        starts = np.concatenate([s for s, _ in found])
        ends = np.concatenate([e for _, e in found])
        if extra:
            # The chains that end at one place from one start are one.
            pairs = np.unique(np.stack([starts, ends], axis=1), axis=0)
            starts, ends = pairs[:, 0], pairs[:, 1]
        if not len(starts):
            break
    return np.unique(starts)


def _intersection(parts: list[Scored]) -> Scored:
    """The documents every part matches, with the sum of their scores."""
    ids, scores = parts[0]
    for other_ids, other_scores in parts[1:]:
        ids, here, there = np.intersect1d(ids, other_ids, assume_unique=True, return_indices=True)
        scores = scores[here] + other_scores[there]
    return ids, scores


def _top(score: np.ndarray, docnums: np.ndarray, limit: int) -> np.ndarray:
    """Positions of the ``limit`` best scores, best first, ties in docnum order."""
    if len(score) > limit:
        # Every score tied with the k-th stays a candidate, so that the
        # tie-break, not argpartition's choice, decides between them.
        kth = np.partition(score, len(score) - limit)[len(score) - limit]
        candidates = np.flatnonzero(score >= kth)
    else:
        candidates = np.arange(len(score))
    order = np.lexsort((docnums[candidates], -score[candidates]))
    return candidates[order[:limit]]


def reference_rank(
    searcher: Any,
    query: wq.Query,
    document_terms: Sequence[wq.Query],
    document_weight: float,
    *,
    limit: int,
    per_doc: bool,
) -> tuple[list[Ranked], int]:
    """:meth:`Engine.rank` computed by Whoosh's matchers, one posting at a time.

    The specification the engine is tested against (``tests/test_engine.py``):
    slow, and without Whoosh's top-N pruning, whose array union bounds a sum
    by the maximum of its parts and so drops segments that hold top hits.
    """
    from .highlight import stops

    reader = searcher.reader()
    if not reader.doc_count_all():
        return [], 0
    column = reader.column_reader("doc_id")
    found = [(hit.docnum, hit.score or 0.0, column[hit.docnum]) for hit in searcher.search(query, limit=None)]
    if document_terms and document_weight:
        records = {column[n]: n for n in sorted(searcher.docs_for_query(wq.Term("kind", KIND_DOC)))}
        targets = sorted({records[doc_id] for _, _, doc_id in found if doc_id in records})
        totals = dict.fromkeys(targets, 0.0)
        for term in document_terms:
            matcher = term.matcher(searcher, searcher.context())
            for docnum in stops(matcher, targets):
                totals[docnum] += matcher.score()
        found = [(n, score + document_weight * totals.get(records.get(doc_id, -1), 0.0), doc_id) for n, score, doc_id in found]
    ranked = sorted(found, key=lambda item: (-item[1], item[0]))
    if per_doc:
        seen: set[str] = set()
        ranked = [item for item in ranked if not (item[2] in seen or seen.add(item[2]))]
    return ranked[:limit], len(ranked)
