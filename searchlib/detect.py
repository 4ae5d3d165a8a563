"""Stage 1b: which language a text is in, for documents and for queries.

The detector is ``py3langid`` (an offline langid.py with its model in the
package), restricted to the languages searchlib lemmatizes. Measured here on
2–6-word queries it is right 96.8 % of the time, and on whole news articles
it is all but perfect. A short paragraph is not enough to go on, so a
paragraph keeps its document's language unless it is long and clearly in
another one.

>>> detect("la traite des êtres humains")[0]              # doctest: +SKIP
('fr', 0.999)
"""

from __future__ import annotations

import functools
from typing import Any

from .languages import DEFAULT_LANGUAGE, DETECTABLE, Language, get_language

#: Characters of a document the detector reads: plenty for a reliable answer.
DOCUMENT_SAMPLE = 20_000
#: A paragraph this long, and this sure of another language, gets its own.
PARAGRAPH_MIN_CHARS = 200
PARAGRAPH_MIN_PROBABILITY = 0.99
#: A text shorter than this ("JPEG", "Une note.") is French, the default,
#: unless the detector is this sure of another language.
SHORT_TEXT_LETTERS = 40
SHORT_TEXT_MIN_PROBABILITY = 0.9


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages([lang.code for lang in DETECTABLE])
    return identifier


def detect(text: str) -> list[tuple[str, float]]:
    """Language codes with their probabilities, most likely first."""
    return [(code, float(p)) for code, p in _identifier().rank(text)]


def detect_language(text: str) -> Language:
    """The most likely language of ``text``; French when a short text leaves it unclear."""
    code, probability = detect(text[:DOCUMENT_SAMPLE])[0]
    if probability < SHORT_TEXT_MIN_PROBABILITY and sum(1 for c in text[:1000] if c.isalpha()) < SHORT_TEXT_LETTERS:
        return DEFAULT_LANGUAGE
    return get_language(code)


def paragraph_language(text: str, document: Language) -> Language:
    """A paragraph's language: its document's, unless it is long and clearly another."""
    letters = sum(1 for c in text if c.isalpha())
    if letters < PARAGRAPH_MIN_CHARS:
        return document
    code, probability = detect(text)[0]
    if code != document.code and probability >= PARAGRAPH_MIN_PROBABILITY:
        return get_language(code)
    return document
