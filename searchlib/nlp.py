"""Stage 2: the spaCy pipeline of each language, loaded once and only when needed.

Loading the French pipeline takes several seconds, so nothing on the query path
imports spaCy unless a query word is new to the index.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import ModelNotInstalledError, UnknownLanguageError
from .languages import LOOKUP, TRAINED, Language

if TYPE_CHECKING:
    import spacy


@functools.cache
def load_pipeline(language: Language) -> spacy.language.Language:
    """The spaCy pipeline for ``language``, with the components searchlib uses.

    For a trained pipeline the dependency parser is left out: the statistical
    sentence splitter (``senter``) gives the sentences passages need at a
    fraction of the cost, and nothing else here uses syntax. Other languages
    get a blank pipeline (tokenizer) with a rule-based sentencizer.
    """
    import spacy

    if language.lemmatizer == TRAINED:
        assert language.pipeline is not None
        try:
            nlp = spacy.load(language.pipeline, exclude=["parser"])
        except OSError:
            package = language.pipeline.replace("_", "-")
            raise ModelNotInstalledError(
                f"the {language.name} pipeline {language.pipeline!r} is not installed; "
                f"install it with: pip install {package}"
            ) from None
        if "senter" in nlp.disabled:
            nlp.enable_pipe("senter")
        return nlp
    try:
        nlp = spacy.blank(language.code)
    except (ImportError, KeyError) as exc:
        raise UnknownLanguageError(f"spaCy cannot tokenize language {language.code!r}: {exc}") from None
    _split_inner_hyphens(nlp)
    nlp.add_pipe("sentencizer")
    return nlp


def _split_inner_hyphens(nlp: spacy.language.Language) -> None:
    """Split words at a hyphen between letters or digits: "EU-Kommission" → "EU", "-", "Kommission".

    spaCy's English and French tokenizers do so already; its German, Spanish,
    Italian, Portuguese and Dutch ones keep "EU-Kommission", "US-China" or
    "1-0" whole, and then "Kommission" or "China" would not find them. Lucene's
    tokenizer splits them in every language, and so does searchlib. (The
    trained French pipeline keeps its own tokenizer, which its tagger was
    trained on.)
    """
    import re

    from spacy.util import compile_infix_regex

    # Portuguese has an "infix" that matches a whole hyphenated word, to keep it.
    kept = [p for p in nlp.Defaults.infixes or () if not re.fullmatch(p, "ab-cd")]
    infixes = [*kept, r"(?<=[^\W_])-(?=[^\W_])"]
    tokenizer: Any = nlp.tokenizer  # a compiled spacy.tokenizer.Tokenizer, without type stubs
    tokenizer.infix_finditer = compile_infix_regex(infixes).finditer


@functools.cache
def lookup_lemmatizer(language: Language) -> Callable[[str], str]:
    """``word → index term``: spaCy's lookup lemma, then the Snowball stem of that lemma.

    The tables are case-sensitive (German nouns are capitalized), so a word at
    the start of a sentence or typed in lowercase needs a second, lowercase
    try. The tables map inflections only, and miss many (Dutch plurals), so the
    lemma is then stemmed: on NTREX-128 headlines, stemming the lemma ranked
    better than the lemma alone in German, Spanish and Italian (nDCG@10
    +0.014, +0.002, +0.002) and was level in English.
    """
    assert language.lemmatizer == LOOKUP
    from spacy.lookups import load_lookups

    table = load_lookups(language.code, ["lemma_lookup"]).get_table("lemma_lookup")
    stem = _stemmer(language.stemmer) if language.stemmer else str

    @functools.lru_cache(maxsize=200_000)
    def term(word: str) -> str:
        lemma = table.get(word) or table.get(word.lower()) or word
        return stem(lemma.lower())

    return term


def _stemmer(algorithm: str) -> Callable[[str], str]:
    import Stemmer

    return Stemmer.Stemmer(algorithm).stemWord


@functools.cache
def stem_term(language: Language) -> Callable[[str], str] | None:
    """``folded word → stem term`` (``"~"`` + its Snowball stem), or None for a language without a stemmer.

    The ``~`` keeps stems apart from lemmas in the fields they share. A stem
    depends on the word alone, not on its context, so a query word reaches
    the same stem as the document word with no lexicon.
    """
    if not language.stemmer:
        return None
    stem = _stemmer(language.stemmer)

    @functools.lru_cache(maxsize=200_000)
    def term(folded: str) -> str:
        return "~" + stem(folded)

    return term


@functools.cache
def _lemma_rules(code: str) -> dict[str, list[tuple[str, str]]]:
    """The suffix rules of ``code``'s lemmatizer, bundled in ``lemma_rules/`` (empty if none)."""
    import json
    from importlib import resources

    path = resources.files(__package__) / "lemma_rules" / f"{code}.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {pos: [(old, new) for old, new in rules] for pos, rules in data["rules"].items()}


def unseen_word_terms(language: Language, word: str) -> tuple[str, ...]:
    """Candidate index terms for a query word that no document holds, without loading spaCy.

    Loading a pipeline takes seconds, and a query word has no context to tag
    it by anyway. So a word of a TRAINED language gets the lemmas its
    lemmatizer's suffix rules give it as a noun, an adjective or a verb
    ("exploitées" → "exploiter"), beside itself; a LOOKUP language's word its
    stem, as its lemma would be stemmed. The caller keeps the candidates the
    index holds: the index's own lemmas serve as the lemmatizer's word list.
    """
    word = word.lower()
    if language.lemmatizer == LOOKUP and language.stemmer:
        return (_stemmer(language.stemmer)(word),)
    forms = [word]
    for rules in _lemma_rules(language.code).values():
        for old, new in rules:
            if word.endswith(old) and len(word) > len(old):
                forms.append(word[: len(word) - len(old)] + new)
    return tuple(dict.fromkeys(forms))
