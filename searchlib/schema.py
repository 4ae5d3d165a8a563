"""Stage 4: analyzed passages → Whoosh documents, and the schema they follow.

Each passage becomes one Whoosh document. Its words are indexed in fields per
language, so that two languages' analyses never share a field:

``lemma_<lang>``
    the contextual lemmas of words written with accents, and the lemmas that
    have them, with their positions (every word counts, function words
    included, so that a phrase finds its words at their distances): a word
    typed with accents prefers them (see :func:`_postings`);
``fold_<lang>``
    the same lemmas without accents, at the same positions, and beside each
    the word's Snowball stem, marked ``~`` (``~victim``): lemmas keep words
    apart that stems merge, stems join words that lemmas keep apart
    ("exploitation", "exploiter"), and ranking counts both.

Each passage stores ``offsets``: where each of its words is, by position
(:func:`encode_words`), from which highlighting marks the words as written.

Each document also gets one record (``kind=doc``), which holds what is the
document's once rather than each passage's: its title (stored, and indexed in
``tlemma_<lang>`` and ``tfold_<lang>`` like the two fields above), content
hash, passage count, ``path`` (the file it was read from: ``--prune`` removes
the documents whose file is gone), and

``dfold_<lang>``
    every word of the whole document, title included, as its folded lemma and
    as the views of :func:`surface_terms`, with their counts, so that ranking
    can weigh a passage's document;
``lex_<lang>``
    the **lexicon**: one term ``fold(word) \\x1f surface \\x1f lemma`` for each
    word as written and each lemma it received in context (an empty lemma for
    a function word). Query analysis reads it to reach exactly the terms the
    documents were indexed under, without loading spaCy, and suggestions
    ("did you mean") take the words as written from it. A word written as one
    that spaCy split ("cannot" → "can", "not") has the term
    ``fold(word) \x1f word \x1f \x1e parts`` (:data:`SPLIT`), so a query
    splits it the same way.

Both kinds share ``doc_id``, so one delete removes both.

The fields are pre-analyzed: Whoosh never runs an analyzer on them. A field
type pickles by its configuration only, as Whoosh stores the schema in the
index.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from whoosh import fields, formats

from . import varints
from .analysis import AnalyzedDocument, Passage, Token
from .languages import LANGUAGES, Language, get_language
from .nlp import stem_term
from .text import fold, normalize_term, trim_punctuation, word_key

#: Bump when the schema or the analysis changes in a way old indexes cannot follow.
SCHEMA_VERSION = 12

SEP = "\x1f"
#: Marks a lexicon entry whose "lemma" is the parts of a split word.
SPLIT = "\x1e"
KIND_PASSAGE = "passage"
#: ``lead`` marks the first passage of each document: a word found only in
#: the title makes that passage a hit, not every passage of the document.
LEAD = "1"
KIND_DOC = "doc"


class PackedPositions(formats.Positions):
    """Positions as varints of their distances, one after another.

    Whoosh's own format writes a 4-byte count and a pickled list: 13 bytes
    for a word found once, where this takes 1 or 2. Most postings of a
    passage index are such words.
    """

    def encode(self, poslist: Any) -> bytes:
        out = bytearray()
        last = 0
        for pos in poslist:
            varints.write(out, pos - last)
            last = pos
        return bytes(out)

    def decode_positions(self, valuestring: bytes) -> list[int]:
        if max(valuestring, default=0) < 0x80:
            return list(itertools.accumulate(valuestring))  # every distance fits a byte: decoded in C
        return list(itertools.accumulate(varints.read_all(valuestring)))

    def decode_frequency(self, valuestring: bytes) -> int:
        return sum(1 for byte in valuestring if byte < 0x80)

    def decode_weight(self, valuestring: bytes) -> float:
        return self.decode_frequency(valuestring) * self.field_boost

    def combine(self, vs: Iterable[bytes]) -> bytes:
        return self.encode(sorted({pos for v in vs for pos in self.decode_positions(v)}))


class AnalyzedText(fields.FieldType):
    """A field indexed from ``(term, position)`` pairs, scored unless said otherwise."""

    def __init__(self, *, scorable: bool = True) -> None:
        super().__init__(format=PackedPositions(), analyzer=None, scorable=scorable, stored=False)  # type: ignore[arg-type]

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        postings: dict[str, list[int]] = defaultdict(list)
        for term, pos in value:
            postings[term].append(pos)
        # Whoosh counts a field's length as the sum of its postings' frequencies
        # (their weights score): a field that keeps only some of its terms
        # (Kept) adds the others' count to its first posting, so that its
        # length, and so BM25's, is the passage's.
        extra = value.dropped if isinstance(value, Kept) else 0
        for term, items in postings.items():
            yield term.encode("utf-8"), len(items) + extra, float(len(items)), self.format.encode(items)
            extra = 0


class Positions(AnalyzedText):
    """``(term, position)`` pairs, not scored: a title's function words (see :func:`title_gap_field`)."""

    def __init__(self) -> None:
        super().__init__(scorable=False)


class Kept(list):
    """``(term, position)`` pairs of a field that keeps only some of a passage's terms, and how many it dropped."""

    def __init__(self, pairs: Iterable[tuple[str, int]], dropped: int) -> None:
        super().__init__(pairs)
        self.dropped = dropped


class TermSet(fields.FieldType):
    """An unscored field that only records which terms a document has."""

    def __init__(self) -> None:
        super().__init__(format=formats.Existence(), analyzer=None, scorable=False, stored=False)  # type: ignore[arg-type]

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        for term in sorted(set(value)):
            yield term.encode("utf-8"), 1, 1.0, b""


class TermCounts(fields.FieldType):
    """A scored field that records how often each term occurs, without positions.

    The count is the posting's weight, which every posting has; Whoosh's
    frequency format would store it a second time, in 4 bytes.
    """

    def __init__(self) -> None:
        super().__init__(format=formats.Existence(), analyzer=None, scorable=True, stored=False)  # type: ignore[arg-type]

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        for term, count in sorted(Counter(value).items()):
            yield term.encode("utf-8"), count, float(count), b""


def make_schema() -> fields.Schema:
    """The Whoosh schema of a searchlib index."""
    schema = fields.Schema(
        kind=fields.ID(),
        lead=fields.ID(),
        # Not stored: the column holds it once for every record (read with stored_record).
        doc_id=fields.ID(stored=False, sortable=True),
        # Indexed on every record, for the language filter; stored as ``language``
        # on a document's record, and on a passage only where it differs (see passage_fields).
        lang=fields.ID(),
        language=fields.STORED(),
        passage=fields.STORED(),
        # A passage's end is start + len(text): not stored.
        start=fields.STORED(),
        title=fields.STORED(),
        text=fields.STORED(),
        entities=fields.STORED(),
        hash=fields.STORED(),
        passages=fields.STORED(),
        words=fields.STORED(),
        # A passage's word offsets, by position (encode_words).
        offsets=fields.STORED(),
        path=fields.STORED(),
        entity=TermSet(),
        etype=TermSet(),
        entity_typed=TermSet(),
        # The scored fields a passage has: per-field statistics for ranking.py.
        fields=TermSet(),
    )
    per_language = {
        "lemma_": AnalyzedText,
        "fold_": AnalyzedText,
        "tlemma_": AnalyzedText,
        "tfold_": AnalyzedText,
        "tgap_": Positions,
        "dfold_": TermCounts,
        "lex_": TermSet,
    }
    for prefix, make in per_language.items():
        # Named fields for the registered languages: Whoosh matches a glob
        # field by pattern on every lookup, and queries look fields up a lot.
        for code in LANGUAGES:
            schema.add(prefix + code, make())
        # Any other language spaCy can tokenize gets its fields by pattern.
        schema.add(prefix + "*", make(), glob=True)
    return schema


def lemma_field(lang: str) -> str:
    return f"lemma_{lang}"


def fold_field(lang: str) -> str:
    return f"fold_{lang}"


def document_fold_field(lang: str) -> str:
    return f"dfold_{lang}"


def title_lemma_field(lang: str) -> str:
    return f"tlemma_{lang}"


def title_fold_field(lang: str) -> str:
    return f"tfold_{lang}"


def title_gap_field(lang: str) -> str:
    """A title's function words (:func:`word_key`) by position. A title stores
    no word offsets, so a quoted phrase's function words are checked here:
    ``"tout petit"`` is not every title with "petit"."""
    return f"tgap_{lang}"


def lex_field(lang: str) -> str:
    return f"lex_{lang}"


#: Length of the prefix term: "exploitation" and "exploitant" share "^explo".
PREFIX_CHARS = 5


def surface_terms(language: Language, surface: str) -> list[str]:
    """The terms a word adds, beside its lemma, to the document-level field.

    Each is a different view of the word, and ranking adds them up: its
    Snowball stem (``~exploit``), the word as written without accents
    (``=exploités`` → ``=exploites``), and its first letters (``^explo``). On
    the PIAF tuning half, each view added to the lemma's raised nDCG@10 (see
    ``bench/quality.py``). A query word gets the same terms from the same
    function, so query and documents agree without any lexicon.
    """
    folded = fold(surface)
    stem = stem_term(language)
    terms = [stem(folded)] if stem is not None else []
    terms.append("=" + folded)
    if len(folded) > PREFIX_CHARS:
        terms.append("^" + folded[:PREFIX_CHARS])
    return terms


def lex_term(surface: str, lemma: str) -> str:
    """The lexicon term of a word: keyed by its folded form without edge punctuation.

    spaCy keeps a period or a hyphen on some words ("25." in German dates,
    "C." in "C. elegans", "Színház-"); a query word never has them, so the
    key leaves them out and the query finds the word as it was indexed.
    """
    return f"{fold(trim_punctuation(surface))}{SEP}{surface}{SEP}{lemma}"


def parse_lex_term(term: str) -> tuple[str, str, str]:
    """``lex_term(surface, lemma)`` → ``(folded surface, surface, lemma)``."""
    folded, surface, lemma = term.split(SEP, 2)
    return folded, surface, lemma


def entity_key(text: str) -> str:
    """How entity names are compared: ``"l’OSCE "`` and ``"l'osce"`` are one key."""
    return " ".join(fold(normalize_term(text)).split())


def entity_typed_key(label: str, key: str) -> str:
    return f"{label.lower()}{SEP}{key}"


def _postings(tokens: Sequence[Token], lang: str) -> tuple[Kept, list[tuple[str, int]]]:
    """The lemma field's postings, and the folded field's: folded lemmas plus the word's stem.

    The lemma field serves only words typed with accents (a query searches
    the folded field for the others): it keeps the lemmas of words written
    with accents, and the lemmas that have them. "traité" → *traité*,
    "été" → *été*, "dû" → *devoir* are kept; "traite" → *traite* is not,
    since the folded field answers for it. In French that is a sixth of the
    lemmas; in English almost none.
    """
    stem = stem_term(get_language(lang))
    exact: list[tuple[str, int]] = []
    folded: list[tuple[str, int]] = []
    dropped = 0
    for token in tokens:
        pos = token.position
        seen = set()
        written_with_accents = fold(token.surface) != token.surface
        for term in token.terms:
            folded_term = fold(term)
            if written_with_accents or folded_term != term:
                exact.append((term, pos))
            else:
                dropped += 1
            seen.add(folded_term)
        if stem is not None:
            seen.add(stem(fold(token.surface)))
        folded.extend((f, pos) for f in sorted(seen))
    return Kept(exact, dropped), folded


def encode_words(words: Sequence[tuple[int, int]]) -> bytes:
    """Word offsets, by position, as varints: each word's distance from the last one's end, and its length.

    About two bytes a word: every posting would otherwise carry the offsets
    of its word, once per term of each field.
    """
    out = bytearray()
    last = 0
    for start, end in words:
        varints.write(out, start - last)
        varints.write(out, end - start)
        last = end
    return bytes(out)


def decode_words(data: bytes) -> list[tuple[int, int]]:
    """:func:`encode_words` read back."""
    if not data:
        return []
    # Every value fits in one byte: the common case, decoded in C.
    values = list(data) if max(data) < 0x80 else varints.read_all(data)
    # Starts and ends alternate in the running sum of the gaps and lengths.
    ends = list(itertools.accumulate(values))
    return list(zip(ends[0::2], ends[1::2]))


class WordOffsets(Sequence[tuple[int, int]]):
    """:func:`decode_words` of a passage, decoded only at the positions asked for.

    A phrase checks one or two function words in each of thousands of
    candidate passages: decoding every word of each would cost more than
    the check. When every value fits in a byte (the common case), a word's
    start is a sum of the bytes before it, taken in C.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._simple = not data or max(data) < 0x80
        self._words: list[tuple[int, int]] | None = None

    def __len__(self) -> int:
        return len(self._data) // 2 if self._simple else len(self.decoded())

    def __getitem__(self, p: int) -> tuple[int, int]:  # type: ignore[override]
        if not self._simple:
            return self.decoded()[p]
        if p < 0:
            p += len(self)
        if not 0 <= p < len(self):
            raise IndexError(p)
        start = sum(self._data[: 2 * p + 1])
        return start, start + self._data[2 * p + 1]

    def decoded(self) -> list[tuple[int, int]]:
        """Every word's offsets, decoded at once."""
        if self._words is None:
            self._words = decode_words(self._data)
        return self._words


def _lex(tokens: Iterable[Token], stops: Iterable[str] = (), joined: Iterable[tuple[str, tuple[str, ...]]] = ()) -> set[str]:
    # Only the contextual lemma goes into the lexicon. The extra terms (the
    # verb of a participle) are indexed so that the verb finds the word, but a
    # query for the word itself should not fan out to every form of the verb.
    lex = {lex_term(token.surface, token.terms[0]) for token in tokens}
    lex.update(lex_term(surface, "") for surface in stops)
    lex.update(lex_term(word, SPLIT + " ".join(parts)) for word, parts in joined)
    return lex


def passage_fields(doc: AnalyzedDocument, passage: Passage) -> dict[str, Any]:
    """The Whoosh fields of one passage.

    Its language is stored only where it is not its document's: most
    passages read it from their document's record. Its end is not stored:
    it is ``start + len(text)``.
    """
    lang = passage.lang
    exact, folded = _postings(passage.tokens, lang)
    keys = [(entity_key(e.text), e.label) for e in passage.entities]
    scored = {lemma_field(lang): exact, fold_field(lang): folded}
    return {
        "kind": KIND_PASSAGE,
        "lead": LEAD if passage.number == 0 else None,
        "doc_id": doc.id,
        "lang": lang,
        **stored_language(lang, doc.lang),
        "passage": passage.number,
        "start": passage.start,
        "text": passage.text,
        "offsets": encode_words(passage.words),
        # An entity's text is the passage's, between its offsets (entity_mentions restores it).
        "entities": tuple((e.label, e.start, e.end, e.words) for e in passage.entities),
        "entity": [key for key, _ in keys],
        "etype": [label.lower() for _, label in keys],
        "entity_typed": [entity_typed_key(label, key) for key, label in keys],
        "fields": [name for name, postings in scored.items() if postings],
        **scored,
    }


def stored_language(lang: str, document_lang: str) -> dict[str, str]:
    """The stored ``language`` of a passage in ``lang``: none where it is its document's."""
    return {"language": lang} if lang != document_lang else {}


def passage_language(fields: dict[str, Any], record: dict[str, Any]) -> str:
    """A passage's language, from its stored ``fields`` or else from its document's ``record``."""
    return fields.get("language") or record.get("language", "")


def entity_mentions(fields: dict[str, Any]) -> list[tuple[str, str, int, int, tuple[tuple[int, int], ...]]]:
    """A passage's stored entities as ``(text, label, start, end, words)``, their text cut from the passage's."""
    text = fields.get("text") or ""
    return [(text[start:end], label, start, end, words) for label, start, end, words in fields.get("entities", ())]


def stored_record(reader: Any, docnum: int, doc_ids: Any = None) -> dict[str, Any]:
    """A record's stored fields, with its ``doc_id`` from the column (``doc_ids``: the reader's, if already open)."""
    found = dict(reader.stored_fields(docnum))
    found["doc_id"] = (doc_ids if doc_ids is not None else reader.column_reader("doc_id"))[docnum]
    if "language" in found:
        found["lang"] = found.pop("language")
    return found


def document_records(doc: AnalyzedDocument) -> Iterator[dict[str, Any]]:
    """Every Whoosh document for ``doc``: its passages, then its record."""
    for passage in doc.passages:
        yield passage_fields(doc, passage)
    yield document_record(doc)


def document_record(doc: AnalyzedDocument) -> dict[str, Any]:
    """The record of a document: its title, its lexicon, and its words for document-level evidence.

    The title is indexed here once, not on every passage; a search carries
    its matches to the passages (:mod:`searchlib.documents`).
    """
    title_exact, title_folded = _postings(doc.title_tokens, doc.lang)
    # The whole document's words, folded, for document-level evidence in ranking.
    whole: dict[str, list[str]] = defaultdict(list)
    lexicon: dict[str, set[str]] = defaultdict(set)
    # Only each word's own lemma: the extra verb of a participle would count
    # the word twice and stretch the document.
    sources = [(doc.lang, doc.title_tokens, frozenset(), frozenset())]
    sources += [(p.lang, p.tokens, p.stop_surfaces, p.joined) for p in doc.passages]
    for lang, tokens, stops, joined in sources:
        language = get_language(lang)
        for token in tokens:
            whole[lang].append(fold(token.terms[0]))
            whole[lang].extend(surface_terms(language, token.surface))
        lexicon[lang] |= _lex(tokens, stops, joined)
    title = {title_lemma_field(doc.lang): title_exact, title_fold_field(doc.lang): title_folded}
    gaps = [(word_key(word), position) for word, position in doc.title_function_words]
    return {
        "kind": KIND_DOC,
        "doc_id": doc.id,
        "lang": doc.lang,
        "language": doc.lang,
        "title": doc.title,
        "hash": doc.hash,
        "passages": len(doc.passages),
        "words": doc.words,
        **title,
        **({title_gap_field(doc.lang): gaps} if gaps else {}),
        **{lex_field(lang): words for lang, words in lexicon.items()},
        "fields": [name for name, postings in title.items() if postings]
        + [document_fold_field(lang) for lang, terms in whole.items() if terms],
        **{document_fold_field(lang): terms for lang, terms in whole.items()},
    }
