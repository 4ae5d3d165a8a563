"""The registry: the single table that knows which languages searchlib supports.

Each :class:`Language` says how its text is split and lemmatized, which words
are function words, and whether it has named entities. Nothing else in the
package branches on a language code: it asks the registry.

>>> get_language("français").code
'fr'
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from .errors import UnknownLanguageError
from .text import fold

# Stop words are chosen by part of speech, in context: a word is dropped when
# it is tagged as a closed class (article, preposition, pronoun, conjunction,
# auxiliary) or as an adverb, *and* it or its lemma is on the stop list. So
# "été" goes in "a été lancée" (AUX, lemma "être") and stays in "l'été"
# (NOUN); "personne" stays in "1 personne poursuivie". The list guards
# against tagging errors: spaCy's small model tags content words such as
# "abbaye", "blé" or "riz" as pronouns or prepositions now and then, and
# those stay. Numbers always stay ("du 20 au 22" tags 20 PRON).
FUNCTION_POS = frozenset({"DET", "ADP", "PRON", "CCONJ", "SCONJ", "AUX", "PART", "ADV"})


@dataclass(frozen=True)
class Language:
    """One supported language and how searchlib analyzes it."""

    code: str
    name: str
    aliases: tuple[str, ...]
    #: Installed spaCy pipeline package with a tagger, lemmatizer and NER.
    pipeline: str
    #: Elided function words, written with the ASCII apostrophe. They are never
    #: indexed, and a query word loses them before it is looked up.
    elisions: frozenset[str]
    has_entities: bool
    #: Entity labels the pipeline produces.
    entity_labels: tuple[str, ...] = ()
    function_pos: frozenset[str] = FUNCTION_POS
    #: French past participles used as nouns or adjectives ("exploités") also
    #: get their verb's lemma, so that "exploiter" finds them.
    participle_verbs: bool = False

    def is_function_word(self, surface: str, pos: str, lemma: str = "") -> bool:
        """Whether a word, tagged ``pos`` in context, is left out of the index."""
        if surface in self.elisions:
            return True
        if pos not in self.function_pos or any(c.isdigit() for c in surface):
            return False
        stop = self.stop_words
        return surface in stop or lemma in stop

    @property
    def stop_words(self) -> frozenset[str]:
        """The language's stop list (spaCy's), imported on first use."""
        return _stop_words(self.code)

    def strip_elision(self, word: str) -> str:
        """``"l'impunité"`` → ``"impunité"``; other words come back unchanged."""
        head, sep, tail = word.partition("'")
        if sep and tail and head + "'" in self.elisions:
            return tail
        return word


FRENCH = Language(
    code="fr",
    name="French",
    aliases=("fr", "fra", "fre", "french", "français", "francais"),
    pipeline="fr_core_news_sm",
    elisions=frozenset(
        {"l'", "d'", "j'", "m'", "n'", "s'", "t'", "c'", "qu'", "jusqu'", "lorsqu'", "puisqu'", "quoiqu'", "presqu'"}
    ),
    has_entities=True,
    entity_labels=("LOC", "MISC", "ORG", "PER"),
    participle_verbs=True,
)

LANGUAGES: dict[str, Language] = {lang.code: lang for lang in (FRENCH,)}
DEFAULT_LANGUAGE = FRENCH

_ALIASES = {fold(alias): lang for lang in LANGUAGES.values() for alias in lang.aliases}


def get_language(name: str) -> Language:
    """Resolve a code or alias (``fr``, ``fra``, ``French``, ``français``).

    Raises :class:`UnknownLanguageError`, listing the supported languages.
    """
    lang = _ALIASES.get(fold(name.strip()))
    if lang is None:
        supported = ", ".join(f"{lang.code} ({lang.name})" for lang in LANGUAGES.values())
        raise UnknownLanguageError(f"unknown language {name!r}; supported languages: {supported}")
    return lang


@functools.cache
def _stop_words(code: str) -> frozenset[str]:
    module = importlib.import_module(f"spacy.lang.{code}.stop_words")
    return frozenset(module.STOP_WORDS)
