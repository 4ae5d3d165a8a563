"""BM25 with the statistics of each field's own documents.

Whoosh's BM25F divides by the whole index: its idf counts every document, and
its average field length averages over every document, including those that
do not have the field. In a searchlib index that is most of them: each
language's fields live only on that language's passages, and document records
have no text fields at all. An index of seven languages would give French
terms the idf of a collection seven times its size, and French passages an
average length seven times too short, which over-rewards long passages.

Here a field's statistics come from the documents that have it: every passage
lists its non-empty scored fields in ``fields`` (see :mod:`searchlib.schema`),
so ``doc_frequency("fields", name)`` is exactly that count. The idf is
Lucene's, ``log(1 + (N - n + 0.5) / (n + 0.5))``, which is never negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import log
from typing import Any

from whoosh import scoring

#: BM25 parameters, the usual defaults.
K1 = 1.2
B = 0.75


@dataclass(frozen=True)
class Ranking:
    """The knobs of searchlib's ranking, for evaluation and ablation.

    The defaults were chosen on the tuning half of PIAF (see ``bench/quality.py``).
    """

    #: BM25 saturation and length normalization, for passages and for titles.
    k1: float = K1
    b: float = B
    title_b: float = B
    #: Idf and average length per field, over the documents that have it
    #: (False: Whoosh's BM25F, over the whole index).
    field_statistics: bool = True
    #: Weight of the title fields against the passage text.
    title_weight: float = 0.5
    #: Weight of an accent-folded match when the query word has accents.
    folded_weight: float = 0.6
    #: Weight of a match on the word's Snowball stem, added to its lemma's.
    stem_weight: float = 1.0
    #: Weight of a passage's document-level score (its words over the whole document).
    document_weight: float = 3.0
    #: Document-level scoring also matches each word's stem, written form and prefix.
    surface_views: bool = True
    #: BM25 parameters of the document-level field.
    document_k1: float = 0.9
    document_b: float = B
    #: Scale a query word by how often it was a content word rather than a function word.
    function_word_weights: bool = True
    #: Bonus for pairs of adjacent query words found within ``proximity_slop`` words.
    proximity_weight: float = 0.0
    proximity_slop: int = 4
    #: Bonus of a passage that mentions an entity the query names ("Convention
    #: de Palerme" typed as words), times the entity's idf over passages.
    entity_weight: float = 2.0

    def weighting(self) -> scoring.WeightingModel:
        if not self.field_statistics:
            return scoring.BM25F(B=self.b, K1=self.k1)
        return FieldBM25(
            k1=self.k1,
            b=self.b,
            field_b={"tlemma_": self.title_b, "tfold_": self.title_b, "dfold_": self.document_b},
            field_k1={"dfold_": self.document_k1},
        )


DEFAULT = Ranking()


class FieldBM25(scoring.WeightingModel):
    """BM25, with per-field document counts and average lengths."""

    def __init__(
        self,
        *,
        k1: float = K1,
        b: float = B,
        field_b: dict[str, float] | None = None,
        field_k1: dict[str, float] | None = None,
    ) -> None:
        self.k1 = k1
        self.b = b
        #: B and K1 per field-name prefix ("tlemma_" for titles).
        self.field_b = dict(field_b or {})
        self.field_k1 = dict(field_k1 or {})

    def supports_block_quality(self) -> bool:
        return True

    def idf(self, searcher: Any, fieldname: str, text: str) -> float:
        return self.parameters(searcher.get_parent(), fieldname, text).idf

    def scorer(self, searcher: Any, fieldname: str, text: str, qf: int = 1) -> scoring.BaseScorer:
        if not searcher.schema[fieldname].scorable:
            return scoring.WeightScorer.for_(searcher, fieldname, text)
        return _Scorer(searcher, fieldname, text, self.parameters(searcher.get_parent(), fieldname, text))

    def parameters(self, statistics: Any, fieldname: str, text: str | bytes) -> BM25Parameters:
        """A term's BM25 parameters, from the index-wide ``statistics`` (a reader or a top-level searcher)."""
        documents = field_documents(statistics, fieldname)
        n = statistics.doc_frequency(fieldname, text)
        return BM25Parameters(
            idf=log(1 + (documents - n + 0.5) / (n + 0.5)),
            avgfl=statistics.field_length(fieldname) / documents or 1.0,
            b=next((v for prefix, v in self.field_b.items() if fieldname.startswith(prefix)), self.b),
            k1=next((v for prefix, v in self.field_k1.items() if fieldname.startswith(prefix)), self.k1),
        )


@dataclass(frozen=True)
class BM25Parameters:
    """Everything a term's BM25 score needs besides a document's term frequency and field length."""

    idf: float
    avgfl: float
    b: float
    k1: float


def term_parameters(weighting: scoring.WeightingModel, statistics: Any, fieldname: str, text: str | bytes) -> BM25Parameters | None:
    """How ``weighting`` scores a term: BM25 parameters, or ``None`` when the score is the term's weight.

    ``statistics`` answers ``doc_frequency``, ``field_length`` and
    ``doc_count_all`` for the whole index, as a reader does. The array engine
    (:mod:`searchlib.engine`) scores with these, as Whoosh's scorers do one
    posting at a time.
    """
    if not statistics.schema[fieldname].scorable:
        return None
    if isinstance(weighting, FieldBM25):
        return weighting.parameters(statistics, fieldname, text)
    if isinstance(weighting, scoring.BM25F):
        # Whoosh's own BM25F, for ablations: its idf and average length count every document.
        count = statistics.doc_count_all()
        idf = log(count / (statistics.doc_frequency(fieldname, text) + 1)) + 1
        b = weighting._field_B.get(fieldname, weighting.B)
        return BM25Parameters(idf, statistics.field_length(fieldname) / (count or 1) or 1, b, weighting.K1)
    raise TypeError(f"no array scoring for {type(weighting).__name__}")


class _Scorer(scoring.WeightLengthScorer):
    def __init__(self, searcher: Any, fieldname: str, text: str, parameters: BM25Parameters) -> None:
        self.idf = parameters.idf
        self.avgfl = parameters.avgfl
        self.b = parameters.b
        self.k1 = parameters.k1
        self.setup(searcher, fieldname, text)

    def _score(self, weight: float, length: int) -> float:
        return scoring.bm25(self.idf, weight, length, self.avgfl, self.b, self.k1)


def field_documents(searcher: Any, fieldname: str) -> int:
    """How many documents have a non-empty ``fieldname`` (at least 1)."""
    return max(searcher.doc_frequency("fields", fieldname), 1)
