"""The registry: the single table that knows which languages searchlib supports.

Each :class:`Language` says how its words are lemmatized, which are function
words, how its text splits into sentences, and whether it has named entities.
Nothing else in the package branches on a language code: it asks the registry.

======  =====================================================================
French  the trained pipeline ``fr_core_news_sm``: contextual lemmas, parts of
        speech (stop words are chosen by them), sentences, named entities.
en de   ``spacy.blank`` with a rule-based sentencizer; each word is indexed
es it   under the lemma from the lookup tables of ``spacy-lookups-data``
pt nl   (case-sensitive, so a lowercase retry follows), stemmed with the
        language's Snowball stemmer: the tables miss many forms (Dutch
        plurals), and on news headlines the stemmed lemma ranked better.
        Stop words come from spaCy's list for the language.
others  any other language spaCy can tokenize, by its ISO 639-1 code:
        tokenized, lowercased and accent-folded, without lemmas.
======  =====================================================================

>>> get_language("français").code
'fr'
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from .errors import UnknownLanguageError
from .text import fold

# Stop words are chosen by part of speech, in context, where a tagger tells
# it (French): a word is dropped when it is tagged as a closed class (article,
# preposition, pronoun, conjunction, auxiliary) or as an adverb, *and* it or
# its lemma is on the stop list. So "été" goes in "a été lancée" (AUX, lemma
# "être") and stays in "l'été" (NOUN); "personne" stays in "1 personne
# poursuivie". The list guards against tagging errors: the small model tags
# content words such as "abbaye", "blé" or "riz" as pronouns or prepositions
# now and then, and those stay. Numbers always stay ("du 20 au 22" tags 20 PRON).
FUNCTION_POS = frozenset({"DET", "ADP", "PRON", "CCONJ", "SCONJ", "AUX", "PART", "ADV"})

TRAINED, LOOKUP, NO_LEMMAS = "trained", "lookup", "none"


@dataclass(frozen=True)
class Language:
    """One supported language and how searchlib analyzes it."""

    code: str
    name: str
    aliases: tuple[str, ...]
    #: TRAINED (a spaCy pipeline package), LOOKUP (spaCy's lemma tables) or NO_LEMMAS.
    lemmatizer: str
    #: The installed spaCy pipeline package, for TRAINED.
    pipeline: str | None = None
    #: Snowball algorithm (PyStemmer name) applied to LOOKUP lemmas.
    stemmer: str | None = None
    #: Elided function words, written with the ASCII apostrophe ("l'"). They
    #: are never indexed, and a query word loses them before it is looked up.
    elisions: frozenset[str] = frozenset()
    #: Clitics spaCy splits off the end of a word ("'s", "n't"): never indexed.
    clitics: frozenset[str] = frozenset()
    has_entities: bool = False
    #: Entity labels the pipeline produces.
    entity_labels: tuple[str, ...] = ()
    #: Past participles used as nouns or adjectives ("exploités") also get
    #: their verb's lemma, so that "exploiter" finds them.
    participle_verbs: bool = False
    function_pos: frozenset[str] = FUNCTION_POS
    #: Whether spaCy has a stop list for the language.
    has_stop_words: bool = True
    #: Among the languages the language detector chooses from.
    detectable: bool = False

    def is_function_word(self, surface: str, pos: str = "", lemma: str = "") -> bool:
        """Whether a word, tagged ``pos`` in context (if known), is left out of the index."""
        if surface in self.elisions or surface in self.clitics:
            return True
        if any(c.isdigit() for c in surface) or not self.has_stop_words:
            return False
        stop = self.stop_words
        if self.lemmatizer == TRAINED:
            return pos in self.function_pos and (surface in stop or lemma in stop)
        return surface in stop

    @property
    def stop_words(self) -> frozenset[str]:
        """The language's stop list (spaCy's), imported on first use."""
        return _stop_words(self.code) if self.has_stop_words else frozenset()

    def strip_elision(self, word: str) -> str:
        """``"l'impunité"`` → ``"impunité"``, ``"trafficking's"`` → ``"trafficking"``."""
        head, sep, tail = word.partition("'")
        if sep and tail and head + "'" in self.elisions:
            return tail
        for clitic in self.clitics:
            if word.endswith(clitic) and len(word) > len(clitic):
                return word[: -len(clitic)]
        return word


def _lookup(code: str, name: str, aliases: tuple[str, ...], **kw: object) -> Language:
    return Language(code=code, name=name, aliases=(code, *aliases), lemmatizer=LOOKUP, detectable=True, **kw)  # type: ignore[arg-type]


FRENCH = Language(
    code="fr",
    name="French",
    aliases=("fr", "fra", "fre", "french", "français", "francais"),
    lemmatizer=TRAINED,
    pipeline="fr_core_news_sm",
    elisions=frozenset(
        {"l'", "d'", "j'", "m'", "n'", "s'", "t'", "c'", "qu'", "jusqu'", "lorsqu'", "puisqu'", "quoiqu'", "presqu'"}
    ),
    has_entities=True,
    entity_labels=("LOC", "MISC", "ORG", "PER"),
    participle_verbs=True,
    detectable=True,
)

REGISTERED: tuple[Language, ...] = (
    FRENCH,
    _lookup(
        "en",
        "English",
        ("eng", "english", "anglais"),
        stemmer="english",
        clitics=frozenset({"'s", "'", "n't", "'re", "'ve", "'ll", "'d", "'m"}),
    ),
    _lookup("de", "German", ("deu", "ger", "german", "deutsch", "allemand"), stemmer="german"),
    _lookup("es", "Spanish", ("spa", "spanish", "español", "espanol", "espagnol"), stemmer="spanish"),
    _lookup(
        "it",
        "Italian",
        ("ita", "italian", "italiano", "italien"),
        stemmer="italian",
        elisions=frozenset(
            {"l'", "un'", "dell'", "all'", "dall'", "nell'", "sull'", "coll'", "quest'", "quell'", "c'", "d'", "po'", "sant'"}
        ),
    ),
    _lookup("pt", "Portuguese", ("por", "portuguese", "português", "portugues", "portugais"), stemmer="portuguese"),
    _lookup("nl", "Dutch", ("nld", "dut", "dutch", "nederlands", "néerlandais"), stemmer="dutch"),
)

LANGUAGES: dict[str, Language] = {lang.code: lang for lang in REGISTERED}
DEFAULT_LANGUAGE = FRENCH
DETECTABLE: tuple[Language, ...] = tuple(lang for lang in REGISTERED if lang.detectable)

_ALIASES = {fold(alias): lang for lang in REGISTERED for alias in lang.aliases}


def get_language(name: str) -> Language:
    """Resolve a code or alias (``fr``, ``fra``, ``French``, ``français``; ``sv`` for any spaCy language).

    Raises :class:`UnknownLanguageError`, listing the supported languages.
    """
    key = fold(name.strip())
    lang = _ALIASES.get(key)
    if lang is None and key.isalpha() and len(key) in (2, 3):
        lang = _generic(key)
    if lang is None:
        supported = ", ".join(f"{lang.code} ({lang.name})" for lang in REGISTERED)
        raise UnknownLanguageError(
            f"unknown language {name!r}; supported languages: {supported}, "
            "and any other language spaCy can tokenize, by its ISO 639-1 code (indexed without lemmas)"
        )
    return lang


@functools.cache
def _generic(code: str) -> Language | None:
    """A language spaCy can tokenize but searchlib has no lemmas for, or None."""
    spec = importlib.util.find_spec("spacy")
    locations = spec.submodule_search_locations if spec else None
    # Looked up on disk: importing spaCy to ask would cost a second on every search.
    if not locations or not (Path(next(iter(locations))) / "lang" / code / "__init__.py").is_file():
        return None
    # Only tokenized, lowercased and folded: every word is kept.
    return Language(code=code, name=code, aliases=(code,), lemmatizer=NO_LEMMAS, has_stop_words=False)


@functools.cache
def _stop_words(code: str) -> frozenset[str]:
    module = importlib.import_module(f"spacy.lang.{code}.stop_words")
    return frozenset(module.STOP_WORDS)
