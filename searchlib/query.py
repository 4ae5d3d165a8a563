"""Stage 5: a query string → a Whoosh query over the analyzed fields.

The query language is Whoosh's: ``AND``, ``OR``, ``NOT``, ``"phrases"`` (with
``~N`` slop), ``field:`` terms, ``prefix*``, ``fuzzy~`` and ``^boost``. Words
are joined with OR by default and ranked by BM25F, as in Elasticsearch.

**Why query words go through the index's lexicon.** A query word has no
context, so spaCy would lemmatize it differently from the same word in a
sentence ("traité" alone comes out as the verb *traiter*). Instead, a query
word is looked up in the lexicon that indexing recorded (``lex_<lang>``, see
:mod:`searchlib.schema`): the word as written maps to exactly the lemmas it
received in the documents. Query and documents therefore agree by
construction on every word the index has seen. A word the index has never
seen gets the lemmas its language's lemmatizer rules give it
(:func:`~searchlib.nlp.unseen_word_terms`), of which those the index holds are
searched. No spaCy model is ever loaded to search.

**Accents.** A word typed without accents searches the accent-folded fields,
so ``impunite`` finds *impunité*. A word typed with accents searches the exact
lemmas first and the folded ones with a lower weight, so ``traité`` ranks
*traité* above *traite*.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import log
from typing import Union

from rapidfuzz import process
from rapidfuzz.distance import OSA, Levenshtein
from whoosh import fields as wfields
from whoosh import qparser
from whoosh import query as wq
from whoosh.analysis import LowercaseFilter, RegexTokenizer
from whoosh.reading import IndexReader

from .codec import prefix_doc_frequencies
from .documents import EVERY_PASSAGE, LEAD_PASSAGE, DocumentQuery, reboosted
from .errors import QuerySyntaxError, UnknownEntityTypeError
from .languages import Language, get_language
from .schema import (
    KIND_PASSAGE,
    SEP,
    SPLIT,
    surface_terms,
    document_fold_field,
    entity_key,
    fold_field,
    lemma_field,
    lex_field,
    parse_lex_term,
    title_fold_field,
    title_gap_field,
    title_lemma_field,
)
from .nlp import stem_term, unseen_word_terms
from .phrases import Phrase, TextPhrase, word_key
from .ranking import DEFAULT, Ranking
from .text import fold, normalize_apostrophes, normalize_term
from .whoosh_fixes import AndNot, DisjunctionMax

MAX_QUERY_CHARS = 1_000
#: Indexed words compared with an unknown word, the most frequent of those
#: sharing its first letters and near its length.
SUGGESTION_CANDIDATES = 300
#: Letters a fuzzy term must share with the typed word, at least.
FUZZY_PREFIX = 1
#: Fields a user may name in a query, and what each searches.
QUERY_FIELDS = {
    "text": "the passage text and the title (the default)",
    "title": "the document title",
    "entity": "a named entity, e.g. entity:OSCE",
    "type": "an entity type: PER, ORG, LOC or MISC",
    "lang": "the passage language, e.g. lang:fr",
    "doc": "a document id",
}
ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")

#: Query routing across languages: a language stays plausible at this
#: detector probability; queries up to this many words weigh languages alike;
#: otherwise a language counts at least this much.
PLAUSIBLE = 0.05
SHORT_QUERY_WORDS = 3
MIN_LANGUAGE_WEIGHT = 0.3
#: The longest entity name a query's words are looked up as, in words.
ENTITY_WORDS = 6


_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}
_BINARY = _OPERATORS - {"NOT"}
_INNER_PUNCT = re.compile(r"[^\w]+")
_FIELD_PREFIX = re.compile(r"([^\W\d]\w*):(.*)", re.DOTALL)
# A query word is a run of non-space characters from its first to its last
# letter or digit: "31/07/2020", "l'impunité" and "2019-2021" stay whole, so
# that they can be looked up in the lexicon exactly as spaCy saw them.
_WORD = r"\w(?:\S*\w)?"
_WORD_RE = re.compile(_WORD)


@dataclass(frozen=True)
class WordLeaf:
    """A matched word: any of these ``(field, term)`` postings marks a word."""

    terms: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PhraseLeaf:
    """A phrase: one set of terms per slot, each slot at its offset (within ``slop``)."""

    field: str
    slots: tuple[tuple[str, ...], ...]
    slop: int
    #: Each slot's offset from the first, in words (function words count).
    offsets: tuple[int, ...]
    #: An exact phrase's function words, ``(offset from the first slot, word_key)``.
    gaps: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class PatternLeaf:
    """A prefix or wildcard, expanded against the index when highlighting, or a fuzzy
    term's query, its terms already chosen."""

    query: wq.Query


@dataclass(frozen=True)
class EntityLeaf:
    """An entity filter: marks the mentions it selects."""

    key: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class TextPhraseLeaf:
    """A phrase of words that can all be function words: its words (``word_key``) in a row, marked in the text."""

    keys: tuple[str, ...]


Leaf = Union[WordLeaf, PhraseLeaf, PatternLeaf, EntityLeaf, TextPhraseLeaf]


@dataclass
class CompiledQuery:
    """What :func:`compile_query` produces: the query, and what to highlight."""

    query: wq.Query
    leaves: list[Leaf] = field(default_factory=list)
    #: Words that matched no term of the index, in the order typed.
    unknown: list[str] = field(default_factory=list)
    #: The positive words, as a query on document records: document-level evidence.
    document_terms: list[wq.Query] = field(default_factory=list)
    #: Per language, the positive single words in query order (for proximity).
    sequence: dict[str, list[_Expansion]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Expansion:
    """One query word in one language: the index terms it stands for."""

    exact: frozenset[str]
    folded: frozenset[str]
    accented: bool
    #: How often the word, as written, was a content word rather than a
    #: function word in the documents: "le" is a name in "Le Pen" but an
    #: article nearly everywhere else, so a query's "Le" weighs almost nothing.
    weight: float = 1.0
    #: The word's stem term (``~`` + Snowball stem), in the folded field; "" if none.
    stem: str = ""
    #: The word as typed (one part of it, elisions off), normalized.
    written: str = ""
    #: Whether the documents also have the word as a function word, at
    #: positions with no term: a phrase takes it as a gap.
    sometimes_function: bool = False


def _parse_schema() -> wfields.Schema:
    words = RegexTokenizer(_WORD) | LowercaseFilter()
    return wfields.Schema(
        text=wfields.TEXT(analyzer=words),
        title=wfields.TEXT(analyzer=words),
        entity=wfields.ID(),
        type=wfields.ID(),
        lang=wfields.ID(),
        doc=wfields.ID(),
    )


def _make_parser() -> qparser.QueryParser:
    parser = qparser.QueryParser("text", _parse_schema(), group=qparser.OrGroup)
    # An apostrophe is part of French words, never a quote.
    parser.remove_plugin_class(qparser.SingleQuotePlugin)
    parser.remove_plugin_class(qparser.RangePlugin)
    parser.add_plugin(qparser.FuzzyTermPlugin())
    return parser


_PARSER = _make_parser()


def check_syntax(text: str) -> None:
    """Raise :class:`QuerySyntaxError` for what Whoosh would silently misread.

    Whoosh's parser never fails: it drops an unclosed quote, ignores a stray
    parenthesis and searches ``NOT`` as a word. A user deserves to be told.
    """
    check_length(text)
    tokens: list[str] = []  # kinds: "(", ")", "OP:<name>", "TERM", "FIELD"
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == '"':
            close = text.find('"', i + 1)
            if close < 0:
                raise QuerySyntaxError('unbalanced quote: a phrase opened with " is never closed; add the closing "')
            i = close + 1
            while i < n and not text[i].isspace() and text[i] not in '()"':
                i += 1  # a ~slop or ^boost after the phrase
            if tokens and tokens[-1] == "FIELD":
                tokens[-1] = "TERM"
            else:
                tokens.append("TERM")
        elif c == "(":
            depth += 1
            if tokens and tokens[-1] == "FIELD":
                tokens.pop()
            tokens.append("(")
            i += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise QuerySyntaxError("unbalanced parenthesis: a ) has no matching (; remove it or add the (")
            if tokens and tokens[-1] == "(":
                raise QuerySyntaxError("empty parentheses (); put a term inside or remove them")
            tokens.append(")")
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '()"':
                j += 1
            word = text[i:j]
            i = j
            if word in _OPERATORS:
                tokens.append("OP:" + word)
                continue
            m = _FIELD_PREFIX.match(word)
            if m and not m.group(1).isdigit():
                name = m.group(1)
                if name not in QUERY_FIELDS:
                    known = ", ".join(QUERY_FIELDS)
                    raise QuerySyntaxError(f"unknown field {name!r} in {word!r}; known fields: {known}")
                if not m.group(2):
                    if i < n and text[i] in '"(':
                        tokens.append("FIELD")
                        continue
                    raise QuerySyntaxError(f"{word!r} has no value; write it as {name}:word or {name}:\"some words\"")
            tokens.append("TERM")
    if depth > 0:
        raise QuerySyntaxError("unbalanced parenthesis: a ( is never closed; add the )")
    _check_operators(tokens)


def check_length(text: str) -> None:
    """Refuse a query over :data:`MAX_QUERY_CHARS`: each word costs lookups in every language."""
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(
            f"the query is {len(text):,} characters long; the limit is {MAX_QUERY_CHARS:,}. Shorten it"
        )


def _check_operators(tokens: Sequence[str]) -> None:
    def operand_start(k: int) -> bool:
        return k < len(tokens) and (tokens[k] in ("TERM", "(") or tokens[k] == "OP:NOT")

    for k, tok in enumerate(tokens):
        if not tok.startswith("OP:"):
            continue
        name = tok[3:]
        if name in _BINARY:
            if k == 0 or tokens[k - 1] not in ("TERM", ")"):
                raise QuerySyntaxError(f"{name} needs a term before it; search for the word in lowercase, e.g. {name.lower()}")
            if not operand_start(k + 1):
                raise QuerySyntaxError(f"{name} needs a term after it; search for the word in lowercase, e.g. {name.lower()}")
        elif not operand_start(k + 1):
            raise QuerySyntaxError("NOT needs a term after it, as in: traite NOT personnes")
    if tokens and all(t == "OP:NOT" or t.startswith("OP:") for t in tokens):
        raise QuerySyntaxError("the query has operators but no terms")


class Vocabulary:
    """What a reader's term tables answer, looked up once: every query asks the same few words.

    A lookup goes through the term table of each segment, in Python; a
    vocabulary lives as long as its reader, and threads may share it (a
    lookup made twice gives the same answer).
    """

    def __init__(self, reader: IndexReader) -> None:
        self.reader = reader
        self._seen: dict[tuple[str, str], bool] = {}
        self._lexicon: dict[tuple[str, str], list[tuple[str, str, int]]] = {}
        self._words: dict[tuple[str, str], list[tuple[str, int]]] = {}
        self._prefixed: dict[tuple[str, str], list[str]] = {}
        self._live: dict[str, list[str]] = {}

    def exists(self, fieldname: str, term: str) -> bool:
        key = (fieldname, term)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = key in self.reader
        return found

    def words(self, code: str, prefix: str) -> list[tuple[str, int]]:
        """The words of the lexicon of language ``code`` whose folded form starts with ``prefix``, as written,
        with the documents that use them, most used first (for suggestions).

        Content words only: a function word is no suggestion.
        """
        key = (code, prefix)
        found = self._words.get(key)
        if found is None:
            fieldname = lex_field(code)
            counts: dict[str, int] = {}
            # Segment by segment: the reader's own walk looks each term up in every segment.
            for segment, _ in self.reader.leaf_readers():
                if fieldname in segment.schema:
                    for btext, documents in prefix_doc_frequencies(segment, fieldname, prefix):
                        _, surface, lemma = parse_lex_term(btext.decode("utf-8"))
                        if lemma and not lemma.startswith(SPLIT):
                            counts[surface] = counts.get(surface, 0) + documents
            found = self._words[key] = sorted(counts.items(), key=lambda item: -item[1])
        return found

    def live(self, fieldname: str) -> list[str]:
        """The terms of ``fieldname`` that a live document has: a deleted document's stay in the term table until a merge."""
        found = self._live.get(fieldname)
        if found is None:
            terms = self.reader.lexicon(fieldname)
            found = self._live[fieldname] = [t.decode("utf-8") for t in terms if self.reader.postings(fieldname, t).is_active()]
        return found

    def within(self, fieldname: str, text: str, maxdist: int, prefixlength: int) -> list[str]:
        """The terms of ``fieldname`` at most ``maxdist`` edits from ``text`` (a swap of
        neighbours counting one) that share its first ``prefixlength`` characters.

        A fuzzy term is expanded once, here, for ranking and highlighting
        alike: Whoosh expands it again for each, in Python, segment by segment.
        """
        prefix = text[:prefixlength]
        key = (fieldname, prefix)
        terms = self._prefixed.get(key)
        if terms is None:
            terms = self._prefixed[key] = [b.decode("utf-8") for b in self.reader.expand_prefix(fieldname, prefix)]
        near = process.extract(text, terms, scorer=OSA.distance, score_cutoff=maxdist, limit=None)
        return sorted(term for term, _, _ in near)

    def lexicon(self, folded: str, code: str) -> list[tuple[str, str, int]]:
        """``(surface, lemma, documents)`` of the lexicon entries keyed ``folded`` in language ``code``."""
        return [entry for entry in self._entries(folded, code) if not entry[1].startswith(SPLIT)]

    def splits(self, folded: str, code: str) -> list[tuple[str, ...]]:
        """How spaCy split the word ``folded`` written as one ("cannot" → ``("can", "not")``), most used first."""
        entries = sorted((entry for entry in self._entries(folded, code) if entry[1].startswith(SPLIT)), key=lambda e: -e[2])
        return [tuple(lemma[len(SPLIT) :].split(" ")) for _, lemma, _ in entries]

    def _entries(self, folded: str, code: str) -> list[tuple[str, str, int]]:
        key = (folded, code)
        entries = self._lexicon.get(key)
        if entries is None:
            field_name = lex_field(code)
            entries = self._lexicon[key] = [
                (*parse_lex_term(btext.decode("utf-8"))[1:], self.reader.doc_frequency(field_name, btext))
                for btext in self.reader.expand_prefix(field_name, folded + SEP)
            ]
        return entries


class QueryCompiler:
    """Compiles query strings against one index reader.

    ``languages`` are the languages a query may belong to; ``vocabulary``
    caches the reader's lookups between queries (default: for this one only).
    """

    def __init__(
        self,
        reader: IndexReader,
        languages: Sequence[Language],
        ranking: Ranking = DEFAULT,
        *,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        self.reader = reader
        self.ranking = ranking
        self.languages = list(languages)
        self._cache: dict[tuple[str, str], list[_Expansion]] = {}
        self.vocabulary = vocabulary or Vocabulary(reader)
        #: Per language: the weight of its analysis of the query.
        self._weights = {lang.code: 1.0 for lang in self.languages}
        #: Languages in which a word the index has never seen is lemmatized by rules.
        self._fallback_languages = {lang.code for lang in self.languages}

    # -- public ------------------------------------------------------------

    def compile(self, text: str, *, plain: bool = False) -> CompiledQuery:
        """Compile ``text``; with ``plain``, every word is a search word and nothing is syntax."""
        text = normalize_apostrophes(text)
        check_length(text)
        if plain:
            parsed = wq.Or([wq.Term("text", w.lower()) for w in _WORD_RE.findall(text)])
        else:
            check_syntax(text)
            parsed = _PARSER.parse(text)
        if len(self.languages) > 1:
            self._route(text)
        compiled = CompiledQuery(query=wq.NullQuery)
        query = self._rewrite(parsed, compiled, positive=True)
        bonus = self._proximity(compiled) if self.ranking.proximity_weight else []
        if self.ranking.entity_weight:
            bonus += self._named_entities(parsed)
        if bonus:
            query = wq.AndMaybe(query, _any(bonus))
        compiled.query = normalized(query)
        return compiled

    def _route(self, text: str) -> None:
        """Choose the languages the query is analyzed in, and how much each counts.

        A language stays if the detector gives it a fair chance or if a query
        word is in its lexicon: "chat", "pain" and "coin" are words in several
        languages, and a short query is where detectors fail, so no language
        is dropped on a weak guess. Short queries weigh every language alike;
        longer ones favour the detected language. A word the index has never
        seen is lemmatized in the most likely language only.
        """
        from .detect import detect

        words = [normalize_term(w) for w in _WORD_RE.findall(text)]
        probabilities = dict(detect(text)) if words else {}
        known = {lang.code: any(self._lex_entries(w, lang) or self._has_term(w, lang) for w in words) for lang in self.languages}
        plausible = [
            lang
            for lang in self.languages
            if known[lang.code] or probabilities.get(lang.code, 0.0) >= PLAUSIBLE or not lang.detectable
        ] or self.languages
        best = max(probabilities.get(lang.code, 0.0) for lang in plausible)
        short = len(words) <= SHORT_QUERY_WORDS or best == 0.0
        self.languages = plausible
        self._weights = {
            lang.code: 1.0 if short else max(MIN_LANGUAGE_WEIGHT, probabilities.get(lang.code, 0.0) / best)
            for lang in plausible
        }
        top = max(plausible, key=lambda lang: (probabilities.get(lang.code, 0.0), known[lang.code]))
        self._fallback_languages = {top.code}

    def _share(self, e: _Expansion) -> float:
        return e.weight if self.ranking.function_word_weights else 1.0

    def _word_query(self, e: _Expansion, exact_field: str, fold_field_: str, weight: float) -> wq.Query:
        """The word's lemmas (the best-scoring one counts), plus its stem."""
        if e.accented and e.exact:
            subs = [wq.Term(exact_field, t) for t in sorted(e.exact)]
            subs += [wq.Term(fold_field_, t, boost=self.ranking.folded_weight) for t in sorted(e.folded)]
        else:
            subs = [wq.Term(fold_field_, t) for t in sorted(e.folded)]
        weight *= self._share(e)
        lemmas = _once(subs)
        if not e.stem or not self.ranking.stem_weight:
            return _boosted(lemmas, weight)
        return wq.Or([lemmas, wq.Term(fold_field_, e.stem, boost=self.ranking.stem_weight)], boost=weight)

    def _proximity(self, out: CompiledQuery) -> list[wq.Query]:
        """Bonus queries: each pair of adjacent query words, near each other in the passage."""
        bonus = []
        for code, sequence in out.sequence.items():
            # As in phrases, a word that is sometimes a function word is a gap
            # (the slop covers it), not a word to find next to its neighbours.
            slots = [e for e in sequence if not e.sometimes_function]
            for a, b in zip(slots, slots[1:]):
                if a.folded and b.folded:
                    pair = _phrase_query([(0, a), (1, b)], fold_field(code), self.ranking.proximity_weight, self.ranking.proximity_slop)
                    bonus.append(pair)
        return bonus

    def _named_entities(self, parsed: wq.Query) -> list[wq.Query]:
        """Bonus queries: the entities of the index that the query's words name.

        ``Convention de Palerme`` typed as three words names the entity that
        the article mentions, and BM25 alone lets a short passage that
        repeats *convention* outrank the article, whose long text dilutes
        both words. A passage that mentions a named entity gains its idf
        (over passages) times ``entity_weight``. Words are read left to right, each
        within the longest name it starts, so *Palerme* inside *Convention de
        Palerme* is not counted again; a lone capitalized word that the index
        knows as an entity (*Tokyo*) counts too.
        """
        passages = self.reader.doc_frequency("kind", KIND_PASSAGE)
        bonus: list[wq.Query] = []
        for run in _word_runs(parsed):
            words = [w for term in run for w in _WORD_RE.findall(term)]
            # A name neither starts nor ends with a function word ("de", "la"):
            # looking up only the spans that could be names saves most lookups.
            edge = [not any(w.lower() in lang.stop_words for lang in self.languages) for w in words]
            keys = [entity_key(w) for w in words]
            # A name's first word may carry an elision: "l'OSCE" names "OSCE".
            bare = [next((entity_key(s) for lang in self.languages if (s := lang.strip_elision(w)) != w and s), None)
                    for w in words]
            i = 0
            while i < len(words):
                for n in range(min(ENTITY_WORDS, len(words) - i), 0, -1) if edge[i] else ():
                    if not edge[i + n - 1]:
                        continue
                    key = self._entity_named(keys[i : i + n], bare[i])
                    if key is not None:
                        found = self.reader.doc_frequency("entity", key)
                        idf = log(1 + (passages - found + 0.5) / (found + 0.5))
                        bonus.append(wq.Term("entity", key, boost=self.ranking.entity_weight * idf))
                        i += n
                        break
                else:
                    i += 1
        return bonus

    def _entity_named(self, keys: Sequence[str], bare_first: str | None) -> str | None:
        """The entity key that words of these ``keys`` spell, also with the first word's elision dropped, or None."""
        names = [" ".join(keys)]
        if bare_first:
            names.append(" ".join([bare_first, *keys[1:]]))
        return next((name for name in names if ("entity", name) in self.reader), None)

    def _has_term(self, word: str, lang: Language) -> bool:
        return self._exists(fold_field(lang.code), fold(word))

    # -- the tree ----------------------------------------------------------

    def _rewrite(self, q: wq.Query, out: CompiledQuery, *, positive: bool) -> wq.Query:
        if isinstance(q, wq.Not):
            return wq.Not(self._rewrite(q.query, out, positive=not positive), boost=q.boost)
        if isinstance(q, wq.AndNot):
            return AndNot(
                self._rewrite(q.a, out, positive=positive), self._rewrite(q.b, out, positive=not positive)
            )
        if isinstance(q, wq.AndMaybe):
            return wq.AndMaybe(self._rewrite(q.a, out, positive=positive), self._rewrite(q.b, out, positive=positive))
        if isinstance(q, wq.Or):
            # "a b NOT c" means: a or b, without c (as in Lucene), not "a or b or anything without c".
            keep = [s for s in q.subqueries if not isinstance(s, wq.Not)]
            drop = [s.query for s in q.subqueries if isinstance(s, wq.Not)]
            if drop:
                excluded = wq.Or([self._rewrite(s, out, positive=not positive) for s in drop])
                if not keep:
                    return wq.Not(excluded, boost=q.boost)
                kept = wq.Or([self._rewrite(s, out, positive=positive) for s in keep], boost=q.boost)
                return AndNot(kept, excluded)
        if isinstance(q, wq.CompoundQuery):
            subs = [self._rewrite(s, out, positive=positive) for s in q.subqueries]
            return q.__class__(subs, boost=q.boost)
        if isinstance(q, wq.Phrase):
            return self._phrase(q, out, positive)
        if isinstance(q, (wq.Prefix, wq.Wildcard, wq.FuzzyTerm)):
            return self._pattern(q, out, positive)
        if isinstance(q, wq.Term):
            return self._term(q, out, positive)
        if isinstance(q, wq.Every):
            return wq.Every()
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return wq.NullQuery
        raise QuerySyntaxError(f"unsupported query construct: {q}")

    def _term(self, q: wq.Term, out: CompiledQuery, positive: bool) -> wq.Query:
        fieldname, value = q.fieldname, str(q.text)
        if fieldname == "entity":
            key = entity_key(value)
            if positive:
                out.leaves.append(EntityLeaf(key=key))
            return wq.Term("entity", key, boost=q.boost)
        if fieldname == "type":
            label = check_entity_type(value)
            if positive:
                out.leaves.append(EntityLeaf(label=label))
            return wq.Term("etype", label.lower(), boost=q.boost)
        if fieldname == "lang":
            return wq.Term("lang", get_language(value).code, boost=q.boost)
        if fieldname == "doc":
            return wq.Term("doc_id", value, boost=q.boost)
        return self._words([value], fieldname, out, positive, boost=q.boost)

    def _phrase(self, q: wq.Phrase, out: CompiledQuery, positive: bool) -> wq.Query:
        if q.fieldname == "entity":
            return self._term(wq.Term("entity", " ".join(q.words), boost=q.boost), out, positive)
        return self._words([str(w) for w in q.words], q.fieldname, out, positive, boost=q.boost, slop=q.slop)

    def _words(
        self, words: list[str], fieldname: str, out: CompiledQuery, positive: bool, *, boost: float, slop: int = 1
    ) -> wq.Query:
        """A word, or a phrase of words, in every language of the index."""
        body: list[wq.Query] = []
        title: list[wq.Query] = []
        for lang in self.languages:
            placed = self._placed(words, lang)
            text_phrase = self._text_phrase(words, lang) if len(words) > 1 and slop <= 1 and fieldname == "text" else None
            if text_phrase is not None:
                body.append(text_phrase)
                if positive:
                    out.leaves.append(TextPhraseLeaf(text_phrase.keys))
            if not placed:
                continue
            slots = [e for _, e in placed]
            code = lang.code
            weight = self._weights[code]
            title_weight = self.ranking.title_weight * weight
            # A quoted phrase's function words are checked in the passage's
            # text: "après la fin" is not any "fin".
            gaps = self._gaps(words, lang, placed) if len(words) > 1 else []
            if len(slots) == 1 and not gaps:
                body.append(self._word_query(slots[0], lemma_field(code), fold_field(code), weight))
                title.append(self._word_query(slots[0], title_lemma_field(code), title_fold_field(code), title_weight))
                if positive and fieldname == "text":
                    out.sequence.setdefault(code, []).append(slots[0])
            else:
                phrase = _phrase_query(placed, fold_field(code), weight, slop, gaps)
                body.append(phrase)
                title.append(_phrase_query(placed, title_fold_field(code), title_weight, slop, gaps, title_gap_field(code)))
            if positive and fieldname == "text":
                field_name = document_fold_field(code)
                for e in slots:
                    boost = weight * self._share(e)
                    out.document_terms.append(_boosted(_once([wq.Term(field_name, t) for t in sorted(e.folded)]), boost))
                    if self.ranking.surface_views:
                        out.document_terms.extend(wq.Term(field_name, t, boost=boost) for t in surface_terms(lang, e.written))
                if len(slots) == 1 and not gaps:
                    terms = [(lemma_field(code), t) for t in sorted(slots[0].exact)]
                    terms += [(fold_field(code), t) for t in sorted(slots[0].folded)]
                    if slots[0].stem and self.ranking.stem_weight:
                        terms.append((fold_field(code), slots[0].stem))
                    out.leaves.append(WordLeaf(tuple(terms)))
                else:
                    folded = tuple(tuple(sorted(e.folded)) for e in slots)
                    offsets = tuple(offset - placed[0][0] for offset, _ in placed)
                    out.leaves.append(PhraseLeaf(fold_field(code), folded, slop, offsets, phrase.gaps))
        if positive:
            out.unknown.extend(w for w in words if not self._known(w))
        return self._place(body, title, fieldname, out, positive, boost)

    def _text_phrase(self, words: Sequence[str], lang: Language) -> TextPhrase | None:
        """The phrase as a :class:`TextPhrase` if each of its words can be a function word
        ("avant de lui"), where it may hold no indexed word at all; else None."""
        written = [part for word in words for part in self._parts(word, lang)]
        expansions = [e for word in words for e in self._expand_parts(word, lang)]
        if len(written) < 2 or any(e is not None and not e.sometimes_function for e in expansions):
            return None
        return TextPhrase(lex_field(lang.code), [fold(p) for p in written], [word_key(p) for p in written], boost=self._weights[lang.code])

    def _place(
        self, body: list[wq.Query], title: list[wq.Query], fieldname: str, out: CompiledQuery, positive: bool, boost: float
    ) -> wq.Query:
        """Combine a term's body and title queries.

        A title is indexed on its document's record. ``title:`` selects every
        passage of the documents whose title matches. A plain term matches a
        passage by its own text, or the first passage of a document by the
        title, with the title's score; every passage of the document counts the
        title's words in its document-level evidence. So a word of the title
        does not make every passage of the document a hit, and ``NOT``
        excludes passages by their own text only.
        """
        if not body:
            return wq.NullQuery
        if fieldname == "title":
            return _boosted(DocumentQuery(_any(title), passages=EVERY_PASSAGE), boost)
        if not positive:
            return _boosted(_any(body), boost)
        return wq.Or([_any(body), DocumentQuery(_any(title), passages=LEAD_PASSAGE)], boost=boost)

    def _pattern(self, q: wq.Query, out: CompiledQuery, positive: bool) -> wq.Query:
        text = fold(normalize_term(str(q.text)))
        if not any(c.isalnum() for c in text):
            # A pattern of no letter or digit (the "?" of "la capitale ?") is punctuation:
            # it would match every word of the index, and read them all.
            return wq.NullQuery
        body: list[wq.Query] = []
        title: list[wq.Query] = []
        for lang in self.languages:
            lang_weight = self._weights[lang.code]
            title_weight = self.ranking.title_weight * lang_weight
            targets = ((fold_field(lang.code), lang_weight, body), (title_fold_field(lang.code), title_weight, title))
            for fieldname, weight, into in targets:
                # Scored, each term the pattern matches by BM25, the scores
                # added: Whoosh's default "constant score" gives every match
                # 1.0 or the BM25 sum depending on how many terms match and
                # how many documents a segment holds.
                if isinstance(q, wq.FuzzyTerm):
                    # The first letter must match (``word~2/2`` asks for more):
                    # every term that shares the prefix is compared, so with
                    # none the whole vocabulary would be.
                    prefixlength = max(q.prefixlength, FUZZY_PREFIX)
                    near = self.vocabulary.within(fieldname, text, q.maxdist, prefixlength)
                    sub: wq.Query = _any([wq.Term(fieldname, t, boost=weight) for t in near]) if near else wq.NullQuery
                elif isinstance(q, wq.Prefix):
                    sub = wq.Prefix(fieldname, text, boost=weight, constantscore=False)
                else:
                    sub = wq.Wildcard(fieldname, text, boost=weight, constantscore=False)
                into.append(sub)
            if positive and q.fieldname == "text":
                out.leaves.append(PatternLeaf(body[-1]))
        return self._place(body, title, q.fieldname, out, positive, q.boost)

    # -- words -------------------------------------------------------------

    def _expand(self, word: str, lang: Language) -> list[_Expansion]:
        """The expansions of one typed word: one per part, none for a function word."""
        return [e for e in self._expand_parts(word, lang) if e is not None]

    def _expand_parts(self, word: str, lang: Language) -> list[_Expansion | None]:
        """One entry per word the documents' tokenizer made of ``word``: its expansion, or None for a function word."""
        key = (word, lang.code)
        if key not in self._cache:
            stem = stem_term(lang)
            expansions: list[_Expansion | None] = []
            for part in self._parts(word, lang):
                e = self._expand_part(part, lang)
                if e is not None:
                    e = dataclasses.replace(e, stem=stem(fold(part)) if stem else "", written=part)
                expansions.append(e)
            self._cache[key] = expansions
        return self._cache[key]

    def _gaps(self, words: Sequence[str], lang: Language, placed: Sequence[tuple[int, _Expansion]]) -> list[tuple[int, str]]:
        """The words a phrase leaves as gaps, at their positions: checked against the text (see :class:`Phrase`)."""
        written = [part for word in words for part in self._parts(word, lang)]
        kept = {offset for offset, _ in placed}
        return [(offset, word_key(part)) for offset, part in enumerate(written) if offset not in kept]

    def _placed(self, words: Sequence[str], lang: Language) -> list[tuple[int, _Expansion]]:
        """The words to search, each with its position among ``words`` as the documents count them.

        Every word counts, function words included (see searchlib.phrases).
        In a phrase, a word that is sometimes a function word (most "de", a
        few of them indexed as content words) becomes a gap, since at most of
        its occurrences the index holds no term to find; it stays when the
        phrase has nothing else.
        """
        parts = [e for word in words for e in self._expand_parts(word, lang)]
        placed = [(offset, e) for offset, e in enumerate(parts) if e is not None]
        if len(placed) > 1:
            placed = [(offset, e) for offset, e in placed if not e.sometimes_function] or placed
        return placed

    def _parts(self, word: str, lang: Language) -> list[str]:
        """Split a typed word the way spaCy split it in documents: whole if the lexicon knows it.

        An elision or a clitic stays as a part of its own ("l'", "'s"), as it
        was a word of its own in the documents: it counts in a phrase. A word
        the documents only hold split ("cannot" → "can", "not") is split so.
        """
        word = normalize_term(word)
        if self._lex_entries(word, lang):
            return [word]
        if not _INNER_PUNCT.search(word):
            splits = self.vocabulary.splits(fold(word), lang.code)
            return list(splits[0]) if splits else [word]
        stripped = lang.strip_elision(word)
        if stripped != word:
            if word.endswith(stripped):  # an elision before
                return [word[: len(word) - len(stripped)], *self._parts(stripped, lang)]
            return [*self._parts(stripped, lang), word[len(stripped) :]]  # a clitic after
        return [p for p in _INNER_PUNCT.split(word) if p]

    def _expand_part(self, word: str, lang: Language) -> _Expansion | None:
        counted = self._lex_entries(word, lang, counts=True)
        entries = [(s, lemma) for s, lemma, _ in counted]
        exact_entries = [(s, lemma) for s, lemma in entries if s == word]
        exact = {lemma for _, lemma in exact_entries if lemma}
        folded = {fold(lemma) for _, lemma in entries if lemma}
        same = [(lemma, n) for s, lemma, n in counted if s == word] or [(lemma, n) for _, lemma, n in counted]
        as_stop = sum(n for lemma, n in same if not lemma)
        as_content = sum(n for lemma, n in same if lemma)
        weight = as_content / (as_content + as_stop) if as_stop and as_content else 1.0
        if self._exists(lemma_field(lang.code), word):
            exact.add(word)
        if self._has_term(word, lang):
            folded.add(fold(word))
        accented = fold(word) != word
        if exact or folded:
            if exact_entries and not exact:
                return None  # written exactly so, the word was only ever a function word
            return _Expansion(frozenset(exact), frozenset(folded), accented, weight, sometimes_function=as_stop > 0)
        if entries or word in lang.elisions or word in lang.clitics or word in lang.stop_words:
            return None
        if lang.code not in self._fallback_languages:
            return _Expansion(frozenset({word}), frozenset({fold(word)}), accented)
        candidates = unseen_word_terms(lang, word)
        # Unseen by the index: keep the candidate lemmas the index holds, else
        # the first one, which matches nothing and makes the word "unknown".
        # The exact field holds lemmas of words written with accents only (schema._postings): a
        # candidate is the index's if it is there, or if the folded field has it.
        terms = [t for t in candidates if self._exists(lemma_field(lang.code), t) or self._exists(fold_field(lang.code), fold(t))]
        terms = terms or list(candidates[:1])
        return _Expansion(frozenset(terms), frozenset(fold(t) for t in terms), accented)

    def _exists(self, fieldname: str, term: str) -> bool:
        return self.vocabulary.exists(fieldname, term)

    def _lex_entries(self, word: str, lang: Language, *, counts: bool = False) -> list:
        """The lexicon entries for ``word`` folded: ``(surface, lemma)``, or with ``counts``
        ``(surface, lemma, passages)``; an empty lemma records a function word."""
        entries = self.vocabulary.lexicon(fold(word), lang.code)
        return entries if counts else [(surface, lemma) for surface, lemma, _ in entries]

    def _known(self, word: str) -> bool:
        """Whether ``word`` is no typo: some language's expansion of it matches a term
        of the index (passages or titles), or some language has it as a function word.

        A function word matches nothing, but "de" is no typo in an index that
        also holds German, where it is an unknown word.
        """
        for lang in self.languages:
            expansions = self._expand(word, lang)
            if not expansions:
                return True
            code = lang.code
            for e in expansions:
                # Stems are left out: "prostitusion" shares the stem of
                # "prostitution" and finds it, but is still a typo to point out.
                if any(self._exists(f, t) for f in (lemma_field(code), title_lemma_field(code)) for t in e.exact) or any(
                    self._exists(f, t) for f in (fold_field(code), title_fold_field(code)) for t in e.folded
                ):
                    return True
        return False

    # -- suggestions -------------------------------------------------------

    def suggest(self, text: str, unknown: Sequence[str]) -> str | None:
        """The query with each unknown word replaced by the closest indexed word."""
        text = normalize_apostrophes(text)
        changed = False
        for word in dict.fromkeys(unknown):
            best = self._closest(normalize_term(word))
            if best:
                text = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", best, text, flags=re.IGNORECASE)
                changed = True
        return text if changed else None

    def _closest(self, word: str) -> str | None:
        """The indexed word nearest ``word``: fewest edits (accents aside), then the most documents."""
        maxdist = 1 if len(word) <= 4 else 2
        # Typos rarely hit the first letters, and each letter of shared prefix
        # divides the words to compare.
        prefix = word[: 1 if len(word) <= 5 else 2 if len(word) <= 8 else 3]
        candidates = []
        for lang in self.languages:
            near = (w for w in self.vocabulary.words(lang.code, fold(prefix)) if abs(len(w[0]) - len(word)) <= maxdist)
            # A suggestion is worth making for a word many documents use:
            # the most frequent candidates are compared, not a long tail.
            for candidate, documents in itertools.islice(near, SUGGESTION_CANDIDATES):
                if _within(candidate, word, maxdist):
                    candidates.append((_distance(fold(candidate), fold(word)), -documents, candidate))
        return min(candidates)[2] if candidates else None


def normalized(q: wq.Query) -> wq.Query:
    """``q.normalize()``, the same tree, without Whoosh's deep copies.

    Whoosh's normalize copies every subquery it lifts out of a nested
    ``Or`` or ``And`` (``with_boost``, a ``deepcopy``), even when its boost is
    unchanged: a fifth of a French question's time. Compiled trees are built
    for one search and never changed, so a lifted subquery is shared, and a
    reboosted one is copied shallowly. Any node this does not know is left to
    its own ``normalize()``.
    """
    kind = type(q)
    if kind is DocumentQuery:
        inner = normalized(q.query)
        return wq.NullQuery if inner is wq.NullQuery else DocumentQuery(inner, passages=q.passages)
    if kind is wq.AndMaybe:
        # Its own normalize() drops the query when "a" is empty, not only "b".
        a = normalized(q.a)
        if a is wq.NullQuery:
            return a
        b = normalized(q.b)
        return a if b is wq.NullQuery else wq.AndMaybe(a, b)
    if isinstance(q, wq.compound.BinaryQuery) and kind.normalize is wq.compound.BinaryQuery.normalize:
        a, b = normalized(q.a), normalized(q.b)
        if a is wq.NullQuery:
            return b
        if b is wq.NullQuery:
            return a
        return kind(a, b)
    if kind.normalize not in _COMPOUND_NORMALIZE:
        return q.normalize()
    subqueries: list[wq.Query] = []
    for sub in q.subqueries:
        sub = normalized(sub)
        if isinstance(sub, kind):
            subqueries += [reboosted(inner, inner.boost * sub.boost) for inner in sub]
        else:
            subqueries.append(sub)
    if any(isinstance(sub, _MERGED_BY_NORMALIZE) for sub in subqueries):
        return kind(subqueries, boost=q.boost).normalize()  # ranges and Every: Whoosh merges them
    unique = [sub for sub in dict.fromkeys(subqueries) if sub is not wq.NullQuery]
    if not unique:
        return wq.NullQuery
    if len(unique) == 1:
        sub = unique[0]
        sub_boost = getattr(sub, "boost", 1.0)
        return sub if q.boost == 1.0 and sub_boost == 1.0 else reboosted(sub, sub_boost * q.boost)
    norm = kind(unique, boost=q.boost)
    for name in ("minmatch", "scale", "tiebreak"):
        if hasattr(q, name):
            setattr(norm, name, getattr(q, name))
    return norm


_COMPOUND_NORMALIZE = (wq.compound.CompoundQuery.normalize, wq.Or.normalize, wq.DisjunctionMax.normalize)
_MERGED_BY_NORMALIZE = (wq.Every, wq.TermRange, wq.NumericRange)


def check_entity_type(value: str) -> str:
    """``"org"`` → ``"ORG"``; an unknown type raises, listing the known ones."""
    label = value.strip().upper()
    if label not in ENTITY_TYPES:
        raise UnknownEntityTypeError(f"unknown entity type {value!r}; use one of: {', '.join(ENTITY_TYPES)}")
    return label


def _word_runs(q: wq.Query) -> list[list[str]]:
    """The runs of words that ``q`` searches the text for, in the order typed, excluded words left out.

    Consecutive plain words make one run, and so does a phrase; anything
    else (a field, a pattern, a group) ends the run.
    """
    if isinstance(q, wq.Phrase):
        return [[str(w) for w in q.words]] if q.fieldname == "text" else []
    if isinstance(q, wq.Term):
        return [[str(q.text)]] if q.fieldname == "text" else []
    if isinstance(q, (wq.Not, type(wq.NullQuery))):
        return []
    if isinstance(q, wq.AndNot):
        return _word_runs(q.a)
    if isinstance(q, wq.AndMaybe):
        return _word_runs(q.a) + _word_runs(q.b)
    if not isinstance(q, wq.CompoundQuery):
        return []
    runs: list[list[str]] = []
    current: list[str] = []
    for sub in q.subqueries:
        if isinstance(sub, wq.Term) and sub.fieldname == "text":
            current.append(str(sub.text))
            continue
        if current:
            runs.append(current)
            current = []
        runs.extend(_word_runs(sub))
    return runs + ([current] if current else [])


def _any(queries: Sequence[wq.Query]) -> wq.Query:
    return queries[0] if len(queries) == 1 else wq.Or(list(queries))


def _once(subs: list[wq.Query]) -> wq.Query:
    """One word's alternative terms, scored by the best one that matches.

    A word indexed under two lemmas ("exploités": exploité, exploiter)
    matches twice at one position; it counts once.
    """
    return subs[0] if len(subs) == 1 else DisjunctionMax(subs)


def _boosted(q: wq.Query, boost: float) -> wq.Query:
    return reboosted(q, q.boost * boost) if boost != 1.0 else q


def _phrase_query(
    placed: Sequence[tuple[int, _Expansion]], fold_field_: str, weight: float, slop: int, gaps: Sequence[tuple[int, str]] = (),
    gap_field: str | None = None,
) -> wq.Query:
    return Phrase(fold_field_, [(offset, sorted(e.folded)) for offset, e in placed], slop=slop, boost=weight, gaps=gaps, gap_field=gap_field)


def _within(a: str, b: str, limit: int) -> bool:
    """Whether ``a`` and ``b`` are at most ``limit`` edits apart, a swap of two neighbours counting one."""
    # rapidfuzz stops a comparison as soon as it exceeds the cutoff, in C:
    # the 300 candidates of a word cost microseconds, not milliseconds.
    return OSA.distance(a, b, score_cutoff=limit) <= limit


def _distance(a: str, b: str) -> int:
    """Levenshtein distance, for ranking suggestions."""
    return Levenshtein.distance(a, b)
