"""Character-level helpers shared by every stage: apostrophes, case, accents.

Offsets are sacred in searchlib: every match must point at the word as written.
So the only change ever made to a document's text before analysis is
:func:`normalize_apostrophes`, which maps one character to one character.
Everything else here works on index *terms*, never on the text itself.
"""

from __future__ import annotations

import functools
import re
import unicodedata

# spaCy's French model splits and lemmatizes "l'", "d'", "qu'" correctly only
# with the ASCII apostrophe: with U+2019 its function-word lemmas fall from
# 100 % to 57 % right. All of these are single code points, so lengths hold.
_APOSTROPHES = str.maketrans(
    {
        "\u2019": "'",  # RIGHT SINGLE QUOTATION MARK, the typographic apostrophe
        "\u02bc": "'",  # MODIFIER LETTER APOSTROPHE
        "\u2018": "'",  # LEFT SINGLE QUOTATION MARK, a common mistype
        "\uff07": "'",  # FULLWIDTH APOSTROPHE
    }
)
# A lone surrogate (from a "\ud800" escape in JSON) is not text, and spaCy
# cannot encode it: it becomes U+FFFD, one character for one.
_SURROGATES = {code: "\ufffd" for code in range(0xD800, 0xE000)}
_PREPARE = {**_APOSTROPHES, **_SURROGATES}

# Letters that NFKD does not decompose but that users type without.
_LIGATURES = str.maketrans(
    {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "ø": "o", "Ø": "o", "đ": "d", "ł": "l", "Ł": "l"}
)

WORD_RE = re.compile(r"\w+")


def normalize_apostrophes(text: str) -> str:
    """Map typographic apostrophes to ``'``, one character for one.

    >>> normalize_apostrophes("l’impunité")
    "l'impunité"
    """
    return text.translate(_PREPARE)


def clean_text(text: str) -> str:
    """Replace lone surrogates with U+FFFD, so that the text can be written as UTF-8."""
    return text.translate(_SURROGATES) if _has_surrogate(text) else text


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@functools.lru_cache(maxsize=200_000)
def normalize_term(word: str) -> str:
    """The form under which a word is compared: NFC, lowercase, ASCII apostrophes.

    >>> normalize_term("L’Alliance")
    "l'alliance"
    """
    return unicodedata.normalize("NFC", normalize_apostrophes(word)).lower()


@functools.lru_cache(maxsize=200_000)
def fold(term: str) -> str:
    """Strip accents and ligatures, so that a query typed without them still matches.

    >>> fold("Êtres"), fold("œuvre")
    ('etres', 'oeuvre')
    """
    decomposed = unicodedata.normalize("NFKD", term.translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")


def trim_punctuation(word: str) -> str:
    """A word without the punctuation at its ends, as a query word is typed: ``"25."`` → ``"25"``.

    >>> trim_punctuation("-il"), trim_punctuation("c.")
    ('il', 'c')
    """
    return _EDGE_PUNCTUATION.sub("", word) or word


@functools.lru_cache(maxsize=65_536)
def word_key(word: str) -> str:
    """How a phrase's function word is compared with the word at its position
    in a passage (or indexed, in a title): ``"L'"`` → ``"l"``."""
    return fold(trim_punctuation(normalize_term(word)))


def has_word_char(text: str) -> bool:
    """True when ``text`` holds at least one letter or digit."""
    return WORD_RE.search(text) is not None
