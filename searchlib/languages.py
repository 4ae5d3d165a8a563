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
        Stop words: the short lists of Lucene's analyzers, bundled in
        ``stop_words/`` (Snowball's; Lucene's 33 words for English).
others  any other language spaCy can tokenize, by its ISO 639-1 code:
        tokenized, lowercased and accent-folded, without lemmas.
======  =====================================================================

>>> get_language("français").code
'fr'
"""

from __future__ import annotations

import functools
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
SPACY_STOPS, BUNDLED_STOPS = "spacy", "bundled"


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
    #: Snowball algorithm (PyStemmer name): every word is also indexed under
    #: its stem (see schema.py), and LOOKUP lemmas are stemmed too.
    stemmer: str | None = None
    #: Elided function words, written with the ASCII apostrophe ("l'"). They
    #: are never indexed, and a query word loses them before it is looked up.
    elisions: frozenset[str] = frozenset()
    #: Clitics spaCy splits off the end of a word ("'s", "n't"): never indexed.
    clitics: frozenset[str] = frozenset()
    #: Words that are function words whatever their tag: the tagger often
    #: calls "quel" an adjective, and it carries nothing a passage would share.
    always_function: frozenset[str] = frozenset()
    has_entities: bool = False
    #: Entity labels the pipeline produces.
    entity_labels: tuple[str, ...] = ()
    #: Past participles used as nouns or adjectives ("exploités") also get
    #: their verb's lemma, so that "exploiter" finds them.
    participle_verbs: bool = False
    function_pos: frozenset[str] = FUNCTION_POS
    #: Where its stop list comes from: spaCy's (SPACY_STOPS), the language's
    #: file in ``searchlib/stop_words/`` (BUNDLED_STOPS), or ``None``: it has
    #: none, and every word is kept.
    stop_list: str | None = SPACY_STOPS
    #: Among the languages the language detector chooses from.
    detectable: bool = False
    #: Words of the stop list that are mostly nouns in real text, and so are
    #: kept: without a tagger to tell, "estados" (a form of "estar", and most
    #: often Estados Unidos) or German "Weg" would never be found. Forms that
    #: are mostly verbs stay on the list even when they can be nouns: Spanish
    #: "era" follows a determiner 5 times in 59 in NTREX-128's Spanish text.
    not_stop: frozenset[str] = frozenset()

    def is_function_word(self, surface: str, pos: str = "", lemma: str = "") -> bool:
        """Whether a word, tagged ``pos`` in context (if known), is left out of the index."""
        if surface in self.elisions or surface in self.clitics or surface in self.always_function:
            return True
        if surface.startswith("-") and len(surface) > 1:
            # An inverted pronoun spaCy splits off with its hyphen ("est-ce",
            # "a-t-il"): "-ce", "-t", "-il" are function words.
            core = surface.lstrip("-")
            return len(core) <= 1 or core in self.stop_words
        if any(c.isdigit() for c in surface):
            return False
        stop = self.stop_words
        if self.lemmatizer == TRAINED:
            return pos in self.function_pos and (surface in stop or lemma in stop)
        return surface in stop

    @functools.cached_property
    def stop_words(self) -> frozenset[str]:
        """The language's stop list, less its ``not_stop`` words, read on first use."""
        # Cached: it is asked for every word analyzed.
        return _stop_words(self.code, self.stop_list) - self.not_stop if self.stop_list else frozenset()

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
    # Without a tagger, a word on the stop list is dropped wherever it occurs,
    # so these languages take short lists of closed-class words. spaCy's
    # lists are long and hold content words ("tarde", "día", "hecho" in
    # Spanish; "over", "down", "why" in English) that only a tagger could
    # tell apart. On the tuning half of NTREX-128 the short lists raised
    # nDCG@10 in en, es, it, pt and nl, de level (bench/multilingual.py).
    return Language(
        code=code,
        name=name,
        aliases=(code, *aliases),
        lemmatizer=LOOKUP,
        detectable=True,
        stop_list=BUNDLED_STOPS,
        **kw,  # type: ignore[arg-type]
    )


FRENCH = Language(
    code="fr",
    name="French",
    aliases=("fr", "fra", "fre", "french", "français", "francais"),
    lemmatizer=TRAINED,
    pipeline="fr_core_news_sm",
    stemmer="french",
    elisions=frozenset(
        {"l'", "d'", "j'", "m'", "n'", "s'", "t'", "c'", "qu'", "jusqu'", "lorsqu'", "puisqu'", "quoiqu'", "presqu'"}
    ),
    always_function=frozenset({"quel", "quelle", "quels", "quelles", "lequel", "laquelle", "lesquels", "lesquelles"}),
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
    _lookup(
        "de",
        "German",
        ("deu", "ger", "german", "deutsch", "allemand"),
        stemmer="german",
        not_stop=frozenset({"weg"}),
    ),
    _lookup(
        "es",
        "Spanish",
        ("spa", "spanish", "español", "espanol", "espagnol"),
        stemmer="spanish",
        not_stop=frozenset({"estado", "estados", "sentido", "sentidos"}),
    ),
    _lookup(
        "it",
        "Italian",
        ("ita", "italian", "italiano", "italien"),
        stemmer="italian",
        elisions=frozenset(
            {
                "l'",
                "un'",
                "dell'",
                "all'",
                "dall'",
                "nell'",
                "sull'",
                "coll'",
                "quest'",
                "quell'",
                "c'",
                "d'",
                "po'",
                "sant'",
            }
        ),
    ),
    _lookup(
        "pt",
        "Portuguese",
        ("por", "portuguese", "português", "portugues", "portugais"),
        stemmer="portuguese",
    ),
    _lookup(
        "nl",
        "Dutch",
        ("nld", "dut", "dutch", "nederlands", "néerlandais"),
        stemmer="dutch",
        not_stop=frozenset({"wezen"}),
    ),
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
    # Looked up on disk: importing spaCy to ask would cost a second on every search.
    if not (_spacy_dir() / "lang" / code / "__init__.py").is_file():
        return None
    # Only tokenized, lowercased and folded: every word is kept.
    return Language(code=code, name=code, aliases=(code,), lemmatizer=NO_LEMMAS, stop_list=None)


@functools.cache
def _stop_words(code: str, source: str = SPACY_STOPS) -> frozenset[str]:
    if source == BUNDLED_STOPS:
        path = Path(__file__).parent / "stop_words" / f"{code}.txt"
        lines = path.read_text(encoding="utf-8").splitlines()
        return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    # spaCy's stop lists are self-contained files. Importing them as
    # spacy.lang.fr.stop_words would first run spacy/lang/fr/__init__.py,
    # which builds the tokenizer's exceptions: seconds on the query path.
    path = _spacy_dir() / "lang" / code / "stop_words.py"
    spec = importlib.util.spec_from_file_location(f"_searchlib_stop_words_{code}", path)
    if spec is None or spec.loader is None:
        return frozenset()
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return frozenset(module.STOP_WORDS)


def _spacy_dir() -> Path:
    spec = importlib.util.find_spec("spacy")
    locations = spec.submodule_search_locations if spec else None
    if not locations:
        raise UnknownLanguageError(
            "spaCy is not installed; install searchlib's dependencies with: pip install searchlib"
        )
    return Path(next(iter(locations)))
