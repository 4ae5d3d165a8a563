"""Stage 3: documents → passages of whole sentences, with index terms and entities.

A document is cut into *units* (paragraphs, list items, headings, the title
line), each unit goes through spaCy on its own, and the sentences that come
back are packed into passages of up to three sentences or about 500
characters. A sentence is never split, and a passage never crosses a paragraph.

For each word the analyzer decides, once, what the index will hold:

* its **terms**: the lowercase lemma spaCy chose *in context*, plus, for a
  French past participle used as a noun or adjective, its verb ("exploités" →
  "exploité", "exploiter");
* or nothing, if it is a function word in context (see
  :meth:`~searchlib.languages.Language.is_function_word`): "été" is dropped in
  "a été lancée" and kept in "l'été";
* its **surface** (lowercase, as written), which feeds the index's lexicon, the
  map that query analysis uses to reach the same terms (see ``query.py``).

Offsets always point into the original text: the only change made before
spaCy is the one-for-one apostrophe mapping of :mod:`searchlib.text`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .detect import detect_language, paragraph_language
from .languages import LOOKUP, TRAINED, Language
from .nlp import load_pipeline, lookup_lemmatizer
from .sources import Document, first_line_title
from .text import has_word_char, normalize_apostrophes, normalize_term

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span
    from spacy.tokens import Token as SpacyToken

MAX_PASSAGE_SENTENCES = 3
MAX_PASSAGE_CHARS = 500
# spaCy keeps a whole unit in memory and refuses texts over 1M characters, and
# a "sentence" this long is a text without punctuation: cut it at spaces.
MAX_UNIT_CHARS = 100_000
MAX_SENTENCE_CHARS = 2_000

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_LINE = re.compile(r"[^\n]*\n?")
# "[^\S\n]" is any space but a newline: French text often puts a no-break
# space after a dash.
_BULLET = re.compile(r"[^\S\n]*(?:[-*+•·▪◦‣►–—]|\d{1,3}[.)])[^\S\n]+\S")
_HEADING = re.compile(r"[^\S\n]*#{1,6}[^\S\n]+\S")
_INDENTED = re.compile(r"[^\S\n]+\S")

# Regular endings of French participles, and the wider set that irregular
# ones (fait, mise, atteint) take. Anything else ("chiffres", "commerce") is
# left alone even though the verb tables know a verb for it.
_REGULAR_PARTICIPLE = ("é", "ée", "és", "ées", "i", "ie", "is", "ies", "u", "ue", "us", "ues", "ant", "ante", "ants", "antes")
_IRREGULAR_PARTICIPLE = _REGULAR_PARTICIPLE + ("t", "te", "ts", "tes", "s", "se", "ses")


@dataclass(frozen=True, slots=True)
class Token:
    """An indexed word: where it is in its passage, and the terms it is indexed under."""

    start: int
    end: int
    surface: str
    terms: tuple[str, ...]
    #: The word's number in its passage (or title), counting every word,
    #: function words included, and no punctuation: a phrase query counts
    #: positions the same way, so "Convention de Palerme" finds the words
    #: two apart whether or not "de" was indexed there.
    position: int = 0


@dataclass(frozen=True, slots=True)
class Entity:
    """A named entity mention, with offsets into its passage."""

    text: str
    label: str
    start: int
    end: int
    #: Offsets of the words to mark when a search selects this entity.
    words: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Passage:
    """A run of whole sentences, ready to index."""

    number: int
    start: int
    end: int
    text: str
    #: Language code the passage was analyzed in.
    lang: str
    tokens: tuple[Token, ...]
    entities: tuple[Entity, ...]
    #: Surfaces dropped as function words: the query side drops them too.
    stop_surfaces: frozenset[str]
    #: ``(start, end)`` in ``text`` of every word, by position: the index
    #: records positions only, and highlighting finds the words here.
    words: tuple[tuple[int, int], ...] = ()
    #: Words written as one that spaCy split into several, with nothing
    #: between the parts: ``("cannot", ("can", "not"))``. A query word typed
    #: so is split the same way, so that a phrase counts the same positions.
    joined: frozenset[tuple[str, tuple[str, ...]]] = frozenset()


@dataclass(frozen=True, slots=True)
class AnalyzedDocument:
    """A document cut into passages, with its title analyzed the same way."""

    id: str
    title: str
    lang: str
    hash: str
    passages: tuple[Passage, ...]
    title_tokens: tuple[Token, ...]
    #: Number of words (tokens that are not spaces or punctuation).
    words: int
    #: The title's function words, as written, with their positions: a
    #: quoted phrase's function words are checked against them (a title's
    #: word offsets are not stored, as a passage's are).
    title_function_words: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    paragraph: int


@dataclass(frozen=True)
class Segment:
    """The part of a document that one language analyzes: all of it, or some paragraphs."""

    document: Document
    #: Paragraph numbers (as :func:`split_units` counts them) to analyze; None for all.
    paragraphs: frozenset[int] | None = None
    #: Whether this segment analyzes the title: the document's main language does.
    title: bool = True


@dataclass
class _Plan:
    segment: Segment
    text: str  # apostrophes normalized, same length as document.text
    units: list[_Unit]
    #: The title is the text's first line, and that line is one of our units.
    title_in_units: bool
    #: The title must be analyzed on its own, as an extra unit.
    title_apart: bool
    results: list[Any]

    @property
    def document(self) -> Document:
        return self.segment.document


@functools.cache
def analyzer_for(language: Language) -> Analyzer:
    """The analyzer of ``language``, one per process: loading a spaCy pipeline takes seconds."""
    return Analyzer(language)


def analyze(
    documents: Iterable[tuple[Document, Language | None]], *, batch_size: int = 64
) -> Iterator[AnalyzedDocument]:
    """Analyze each document in its language; ``None`` means: detect it.

    A document whose language is detected is also checked paragraph by
    paragraph, and a long paragraph clearly in another language is analyzed
    in that one. This is the whole analysis stage in one call, so that it can
    run in worker processes: input and output are plain picklable data.
    Documents come back grouped by language, not in input order.
    """
    groups: dict[Language, list[tuple[int, Segment]]] = {}
    expected: dict[int, int] = {}
    for n, (document, language) in enumerate(documents):
        segments = language_segments(document, language)
        expected[n] = len(segments)
        for lang, segment in segments:
            groups.setdefault(lang, []).append((n, segment))
    parts: dict[int, list[tuple[bool, AnalyzedDocument]]] = {}
    for language, items in groups.items():
        results = analyzer_for(language).analyze_segments([segment for _, segment in items], batch_size=batch_size)
        for (n, segment), partial in zip(items, results):
            parts.setdefault(n, []).append((segment.title, partial))
            if len(parts[n]) == expected[n]:
                yield _merge(parts.pop(n))


def language_segments(document: Document, language: Language | None) -> list[tuple[Language, Segment]]:
    """How a document splits between languages: one segment, unless detection finds several."""
    if language is not None:
        return [(language, Segment(document))]
    text = normalize_apostrophes(document.text)
    main = detect_language(text)
    paragraphs: dict[int, list[_Unit]] = {}
    for unit in split_units(text, title_line=_title_in_text(document, text)):
        paragraphs.setdefault(unit.paragraph, []).append(unit)
    by_language: dict[Language, set[int]] = {}
    for number, units in paragraphs.items():
        lang = paragraph_language(text[units[0].start : units[-1].end], main)
        by_language.setdefault(lang, set()).add(number)
    if len(by_language) <= 1:
        return [(next(iter(by_language), main), Segment(document))]
    if main not in by_language:
        main = max(by_language, key=lambda lang: len(by_language[lang]))
    return [
        (lang, Segment(document, frozenset(numbers), title=lang == main)) for lang, numbers in by_language.items()
    ]


def _merge(parts: list[tuple[bool, AnalyzedDocument]]) -> AnalyzedDocument:
    """One document from the segments its languages analyzed, passages in text order."""
    if len(parts) == 1:
        return parts[0][1]
    main = next(part for is_main, part in parts if is_main)
    passages = sorted((p for _, part in parts for p in part.passages), key=lambda p: p.start)
    return AnalyzedDocument(
        id=main.id,
        title=main.title,
        lang=main.lang,
        hash=main.hash,
        passages=tuple(dataclasses.replace(p, number=i) for i, p in enumerate(passages)),
        title_tokens=main.title_tokens,
        words=sum(part.words for _, part in parts),
        title_function_words=main.title_function_words,
    )


def _title_in_text(document: Document, text: str) -> bool:
    """Whether the document's title is its text's first line (as in a .txt or .md file)."""
    title = normalize_apostrophes(document.title.strip())
    return bool(title) and title in (first_line_title(text), first_line_title(text, markdown=True))


#: Changes whenever the same document would be indexed differently (stop
#: lists, tokenization), so that indexing it again replaces it.
ANALYSIS_VERSION = 3


def content_hash(document: Document) -> str:
    """A digest of everything that affects how a document is indexed."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"analysis {ANALYSIS_VERSION}\x00".encode())
    for part in (document.title, document.lang or "", document.text):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def split_units(text: str, *, title_line: bool = False) -> list[_Unit]:
    """Cut ``text`` into the spans that spaCy sees one at a time.

    Paragraphs are separated by blank lines. Inside a paragraph, every list
    item and heading starts a unit of its own, so a bullet line is always a
    sentence by itself. With ``title_line``, the first line is a paragraph of
    its own. Spans are trimmed of surrounding whitespace.
    """
    units: list[_Unit] = []
    paragraph = 0
    start = 0
    if title_line:
        first = len(text) - len(text.lstrip())
        end = text.find("\n", first)
        end = len(text) if end < 0 else end
        units.extend(_trimmed(text, first, end, paragraph))
        paragraph += 1
        start = end
    for block in _blocks(text, start):
        units.extend(_block_units(text, block[0], block[1], paragraph))
        paragraph += 1
    return [piece for unit in units for piece in _bounded(text, unit)]


def _blocks(text: str, start: int) -> Iterator[tuple[int, int]]:
    for match in _PARAGRAPH_BREAK.finditer(text, start):
        if match.start() > start:
            yield start, match.start()
        start = match.end()
    if start < len(text):
        yield start, len(text)


def _block_units(text: str, start: int, end: int, paragraph: int) -> Iterator[_Unit]:
    unit_start: int | None = None
    in_item = in_heading = False
    pos = start
    for match in _LINE.finditer(text, start, end):
        line = match.group()
        if not match.group():
            break
        line_start = pos
        pos = match.end()
        if not line.strip():
            continue
        bullet = _BULLET.match(line) is not None
        heading = _HEADING.match(line) is not None
        new_unit = (
            unit_start is None
            or bullet
            or heading
            or in_heading
            or (in_item and not _INDENTED.match(line))
        )
        if new_unit:
            if unit_start is not None:
                yield from _trimmed(text, unit_start, line_start, paragraph)
            unit_start = line_start
            in_item, in_heading = bullet, heading
    if unit_start is not None:
        yield from _trimmed(text, unit_start, end, paragraph)


def _trimmed(text: str, start: int, end: int, paragraph: int) -> Iterator[_Unit]:
    chunk = text[start:end]
    stripped = chunk.strip()
    if stripped:
        lead = len(chunk) - len(chunk.lstrip())
        yield _Unit(start + lead, start + lead + len(stripped), paragraph)


def last_break(window: str, *, earliest: int = 0) -> int:
    """Where to cut ``window``: the last sentence end (". " or a line break) from ``earliest`` on, else the last space.

    The index of that character, or -1 if there is none.
    """
    cut = max(window.rfind(". "), window.rfind("\n"))
    return cut if cut >= earliest else window.rfind(" ")


def _bounded(text: str, unit: _Unit) -> Iterator[_Unit]:
    """Cut a unit longer than MAX_UNIT_CHARS, preferring a sentence end, then a space."""
    start = unit.start
    while unit.end - start > MAX_UNIT_CHARS:
        cut = last_break(text[start : start + MAX_UNIT_CHARS], earliest=MAX_UNIT_CHARS // 2)
        cut = MAX_UNIT_CHARS if cut <= 0 else cut + 1
        yield from _trimmed(text, start, start + cut, unit.paragraph)
        start += cut
    yield from _trimmed(text, start, unit.end, unit.paragraph)


class Analyzer:
    """Analyzes documents of one language with its spaCy pipeline.

    >>> analyzer = Analyzer(get_language("fr"))            # doctest: +SKIP
    >>> [doc] = analyzer.analyze([Document(id="a", text="Les victimes.")])  # doctest: +SKIP
    >>> doc.passages[0].tokens[0].terms                     # doctest: +SKIP
    ('victime',)
    """

    def __init__(self, language: Language) -> None:
        self.language = language
        self.nlp = load_pipeline(language)
        self._verb_of = _participle_verbs(self.nlp) if language.participle_verbs else None
        self._lookup = lookup_lemmatizer(language) if language.lemmatizer == LOOKUP else None

    # -- words -------------------------------------------------------------

    def token_terms(self, token: SpacyToken) -> tuple[str, ...] | None:
        """The terms a spaCy token is indexed under; ``None`` for a function word.

        This is the one place that decides what a word becomes in the index.
        Query analysis reaches the same terms through the index's lexicon.
        """
        surface = normalize_term(token.text)
        if self.language.lemmatizer == TRAINED:
            lemma = normalize_term(token.lemma_)
        elif self._lookup is not None:
            lemma = normalize_term(self._lookup(normalize_apostrophes(token.text)))
        else:
            lemma = surface
        if not has_word_char(surface) or self.language.is_function_word(surface, token.pos_, lemma):
            return None
        if not has_word_char(lemma) or any(c.isspace() for c in lemma):
            lemma = surface
        verb = self._verb_of(surface) if self._verb_of and token.pos_ in ("NOUN", "ADJ") else None
        if verb and verb != lemma:
            return (lemma, verb)
        return (lemma,)

    # -- documents ---------------------------------------------------------

    def analyze(self, documents: Iterable[Document], *, batch_size: int = 64) -> Iterator[AnalyzedDocument]:
        """Analyze whole documents in this language, in order."""
        return self.analyze_segments((Segment(document) for document in documents), batch_size=batch_size)

    def analyze_segments(self, segments: Iterable[Segment], *, batch_size: int = 64) -> Iterator[AnalyzedDocument]:
        """Analyze a stream of segments, in order, batching their units through spaCy.

        Every segment must have some non-blank text (the caller skips the others).
        """

        def units() -> Iterator[tuple[str, tuple[_Plan, int]]]:
            for segment in segments:
                plan = self._plan(segment)
                if not plan.units and not plan.title_apart:
                    raise ValueError(f"document {segment.document.id!r} has no text to analyze")
                for i, unit in enumerate(plan.units):
                    yield plan.text[unit.start : unit.end], (plan, i)
                if plan.title_apart:
                    yield normalize_apostrophes(segment.document.title), (plan, -1)

        for doc, (plan, i) in self.nlp.pipe(units(), as_tuples=True, batch_size=batch_size):
            plan.results.append((i, doc))
            if len(plan.results) == len(plan.units) + plan.title_apart:
                yield self._finish(plan)

    def _plan(self, segment: Segment) -> _Plan:
        document = segment.document
        text = normalize_apostrophes(document.text)
        title_line = _title_in_text(document, text)
        units = split_units(text, title_line=title_line)
        if segment.paragraphs is not None:
            units = [u for u in units if u.paragraph in segment.paragraphs]
        title_in_units = segment.title and title_line and bool(units) and units[0].paragraph == 0
        title_apart = segment.title and bool(document.title.strip()) and not title_in_units
        return _Plan(segment, text, units, title_in_units, title_apart, [])

    def _finish(self, plan: _Plan) -> AnalyzedDocument:
        sentences: list[tuple[int, int, int]] = []  # start, end, paragraph
        tokens: list[tuple[int, int, str, tuple[str, ...] | None]] = []
        entities: list[tuple[int, int, str, tuple[tuple[int, int], ...]]] = []
        title_tokens: list[Token] = []
        title_function_words: list[tuple[str, int]] = []
        words = 0
        for i, doc in plan.results:
            if i < 0:
                title_tokens, title_function_words = self._title_tokens(doc, 0)
                continue
            unit = plan.units[i]
            if plan.title_in_units and i == 0:
                title_tokens, title_function_words = self._title_tokens(doc, unit.start)
            for sent in doc.sents:
                sentences.extend(_sentence_spans(sent, unit))
            for token in doc:
                if token.is_space or token.is_punct:
                    continue
                words += 1
                if not is_word(token):
                    continue  # "%", "€": no position, as a query has no such word
                start = unit.start + token.idx
                tokens.append((start, start + len(token.text), normalize_term(token.text), self.token_terms(token)))
            if self.language.has_entities:
                entities.extend(self._entities(doc, unit.start))
        passages = _pack(plan.document.text, self.language.code, sentences, tokens, entities)
        return AnalyzedDocument(
            id=plan.document.id,
            title=plan.document.title.strip(),
            lang=self.language.code,
            hash=content_hash(plan.document),
            passages=tuple(passages),
            title_tokens=tuple(title_tokens),
            words=words,
            title_function_words=tuple(title_function_words),
        )

    def _title_tokens(self, doc: Doc, base: int) -> tuple[list[Token], list[tuple[str, int]]]:
        """A title's indexed words, and its function words (as written) with their positions."""
        result = []
        function_words = []
        position = 0
        for token in doc:
            if not is_word(token):
                continue
            terms = self.token_terms(token)
            if terms:
                start = base + token.idx
                result.append(Token(start, start + len(token.text), normalize_term(token.text), terms, position))
            else:
                function_words.append((token.text, position))
            position += 1
        return result, function_words

    def _entities(self, doc: Doc, base: int) -> Iterator[tuple[int, int, str, tuple[tuple[int, int], ...]]]:
        for ent in doc.ents:
            span = _trim_entity(ent, self.language)
            if span is None:
                continue
            words = tuple(
                (base + t.idx, base + t.idx + len(t.text))
                for t in span
                if has_word_char(t.text) and normalize_term(t.text) not in self.language.elisions
            )
            yield base + span.start_char, base + span.end_char, ent.label_, words


def is_word(token: SpacyToken) -> bool:
    """Whether a token takes a position: a word, content or function, with a letter or digit.

    A query's phrase is cut into words the same way (see ``query.py``), so
    positions on both sides count the same words.
    """
    return not (token.is_space or token.is_punct) and has_word_char(token.text)


def _trim_entity(ent: Span, language: Language) -> Span | None:
    """Drop the punctuation, articles and elisions the model leaves at an entity's edges."""

    def edge(token: SpacyToken) -> bool:
        surface = normalize_term(token.text)
        return (
            not has_word_char(surface)
            or surface in language.elisions
            or (token.pos_ in ("DET", "ADP", "CCONJ", "PRON") and surface in language.stop_words)
        )

    start, end = ent.start, ent.end
    doc = ent.doc
    while start < end and edge(doc[start]):
        start += 1
    while end > start and edge(doc[end - 1]):
        end -= 1
    if start == end:
        return None
    return doc[start:end]


def _sentence_spans(sent: Span, unit: _Unit) -> Iterator[tuple[int, int, int]]:
    text = sent.text
    stripped = text.strip()
    if not stripped:
        return
    start = unit.start + sent.start_char + (len(text) - len(text.lstrip()))
    end = start + len(stripped)
    if end - start <= MAX_SENTENCE_CHARS:
        yield start, end, unit.paragraph
        return
    # Not a real sentence: cut at token boundaries into passage-sized pieces.
    piece_start = start
    for token in sent:
        token_start = unit.start + token.idx
        if token_start - piece_start >= MAX_PASSAGE_CHARS and token.is_space is False:
            yield piece_start, token_start, unit.paragraph
            piece_start = token_start
    yield piece_start, end, unit.paragraph


def _pack(
    original: str,
    lang: str,
    sentences: list[tuple[int, int, int]],
    tokens: list[tuple[int, int, str, tuple[str, ...] | None]],
    entities: list[tuple[int, int, str, tuple[tuple[int, int], ...]]],
) -> list[Passage]:
    groups: list[list[tuple[int, int, int]]] = []
    for sentence in sentences:
        current = groups[-1] if groups else None
        if (
            current is None
            or current[-1][2] != sentence[2]
            or len(current) >= MAX_PASSAGE_SENTENCES
            or sentence[1] - current[0][0] > MAX_PASSAGE_CHARS
        ):
            groups.append([sentence])
        else:
            current.append(sentence)

    passages = []
    ti = ei = 0
    for number, group in enumerate(groups):
        start, end = group[0][0], group[-1][1]
        while ti < len(tokens) and tokens[ti][0] < start:
            ti += 1
        own_tokens = []
        stops = set()
        spans = []  # of every word, by position
        run: list[str] = []  # the parts of a word spaCy split, so far
        joined = set()
        while ti < len(tokens) and tokens[ti][0] < end:
            t_start, t_end, surface, terms = tokens[ti]
            span = (t_start - start, min(t_end, end) - start)
            if terms is None:
                stops.add(surface)
            else:
                own_tokens.append(Token(*span, surface, terms, len(spans)))
            touching = bool(spans) and spans[-1][1] == span[0] and original[start + spans[-1][0] : t_end].isalnum()
            if not touching and len(run) > 1:
                joined.add(("".join(run), tuple(run)))
            run = [*run, surface] if touching else [surface]
            spans.append(span)
            ti += 1
        if len(run) > 1:
            joined.add(("".join(run), tuple(run)))
        while ei < len(entities) and entities[ei][0] < start:
            ei += 1
        own_entities = []
        while ei < len(entities) and entities[ei][0] < end:
            e_start, e_end, label, words = entities[ei]
            e_end = min(e_end, end)
            own_entities.append(
                Entity(
                    text=original[e_start:e_end],
                    label=label,
                    start=e_start - start,
                    end=e_end - start,
                    words=tuple((s - start, min(e, end) - start) for s, e in words if s < end),
                )
            )
            ei += 1
        passages.append(
            Passage(
                number=number,
                start=start,
                end=end,
                text=original[start:end],
                lang=lang,
                tokens=tuple(own_tokens),
                entities=tuple(own_entities),
                stop_surfaces=frozenset(stops),
                words=tuple(spans),
                joined=frozenset(joined),
            )
        )
    return passages


def _participle_verbs(nlp: Any) -> Any:
    """A cached ``surface → verb lemma`` function for French participles."""
    lookups = nlp.get_pipe("lemmatizer").lookups
    verb_index = frozenset(lookups.get_table("lemma_index").get("verb", []))
    exceptions = lookups.get_table("lemma_exc").get("verb", {})
    rules = [tuple(rule) for rule in lookups.get_table("lemma_rules").get("verb", [])]

    @functools.lru_cache(maxsize=100_000)
    def verb_of(surface: str) -> str | None:
        if surface.endswith(_IRREGULAR_PARTICIPLE):
            for form in exceptions.get(surface, ()):
                if form in verb_index:
                    return form
        if surface.endswith(_REGULAR_PARTICIPLE):
            for old, new in rules:
                if surface.endswith(old):
                    form = surface[: len(surface) - len(old)] + new
                    if form and form in verb_index:
                        return form
        return None

    return verb_of
