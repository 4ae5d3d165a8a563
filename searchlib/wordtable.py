"""Every word of a segment's passages by its phrase key, as arrays.

The index holds no term for a function word. A phrase checks its function
words at their positions (``"votre père"``), and a phrase all of whose words
can be function words (``"comme vous"``, see
:class:`searchlib.phrases.TextPhrase`) has no indexed term at all: both were
answered from the stored text of the candidate passages, which for common
words means most passages of the segment, about a second per query at 100k
passages. This table holds where each word of the segment is, grouped by
:func:`~searchlib.text.word_key`, so that either is a few sorted-array
lookups. It costs a few such readings to build, and is kept in memory rather
than in the index: it holds a place for every word written, function words
included, which the index was made small by leaving out.

A place is an ``int64``: the passage's docnum in the high 32 bits, the word's
position in the low ones, so that "the word after" is ``place + 1``.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

import numpy as np

from .schema import decode_words
from .text import word_key
from .varints import read_array

#: A word's place: its passage's docnum in the high 32 bits, its position in the low ones.
#: A place minus a few is no word's (its position would be 2**32 - 1): a phrase's
#: word before the start of a passage is simply not found.
_PLACE = np.int64
SHIFT = 32
EMPTY = np.empty(0, dtype=_PLACE)


def member(places: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Which of ``places`` are in ``among`` (ascending), as a mask."""
    if not len(among):
        return np.zeros(len(places), dtype=bool)
    at = np.searchsorted(among, places)
    at[at == len(among)] = 0
    return among[at] == places


def decode_places(ids: np.ndarray, data: bytes, ends: np.ndarray) -> np.ndarray:
    """The places of postings ``ids`` whose positions (:class:`searchlib.schema.PackedPositions`)
    are ``data``, each posting's ending at ``ends``: ascending if ``ids`` are."""
    distances = read_array(data)
    if not len(distances):
        return EMPTY
    # A posting's count of positions is the count of its varints' last bytes.
    last = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum(np.frombuffer(data, dtype=np.uint8) < 0x80, out=last[1:])
    counts = np.diff(last[np.concatenate(([0], ends))])
    running = np.cumsum(distances)
    firsts = np.cumsum(counts) - counts
    some = counts > 0
    before = np.repeat(running[firsts[some]] - distances[firsts[some]], counts[some])
    return (np.repeat(ids.astype(_PLACE), counts) << SHIFT) | (running - before)


class _KeyIds(dict):
    """Written word → the id of its :func:`word_key` in ``keys``, made on first sight."""

    def __init__(self, keys: dict[str, int]) -> None:
        super().__init__()
        self._keys = keys

    def __missing__(self, word: str) -> int:
        key = self[word] = self._keys.setdefault(word_key(word), len(self._keys))
        return key


class WordTable:
    """Where each word key occurs in a segment's passages: sorted places, by key."""

    def __init__(self, keys: dict[str, int], bounds: np.ndarray, places: np.ndarray) -> None:
        self._keys = keys
        self._bounds = bounds
        self._places = places

    @classmethod
    def build(cls, passages: Iterable[tuple[int, str, bytes]]) -> WordTable:
        """The table of ``passages``: (docnum, text, encoded word offsets), docnums ascending."""
        keys: dict[str, int] = {}
        ids = array("q")
        docnums = array("q")
        counts = array("q")
        # A written word's key id: each distinct word is keyed once, and every
        # word looked up in C (map over the dictionary's __getitem__).
        seen = _KeyIds(keys)
        for docnum, text, offsets in passages:
            words = [text[start:end] for start, end in decode_words(offsets)]
            ids.extend(map(seen.__getitem__, words))
            docnums.append(docnum)
            counts.append(len(words))
        key_of = np.frombuffer(ids, dtype=np.int64)
        counts_array = np.frombuffer(counts, dtype=_PLACE)
        firsts = np.cumsum(counts_array) - counts_array
        positions = np.arange(len(key_of), dtype=_PLACE) - np.repeat(firsts, counts_array)
        places = (np.repeat(np.frombuffer(docnums, dtype=_PLACE), counts_array) << SHIFT) | positions
        # A stable sort keeps each key's places in passage, then position, order.
        order = np.argsort(key_of, kind="stable")
        bounds = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum(np.bincount(key_of, minlength=len(keys)), out=bounds[1:])
        return cls(keys, bounds, places[order])

    @property
    def nbytes(self) -> int:
        # The key dictionary's strings and slots, roughly, with the arrays.
        return self._bounds.nbytes + self._places.nbytes + 100 * len(self._keys)

    def places(self, key: str) -> np.ndarray:
        """Where words with this key are, ascending."""
        k = self._keys.get(key)
        if k is None:
            return self._places[:0]
        return self._places[self._bounds[k] : self._bounds[k + 1]]

    def phrase(self, keys: Sequence[str]) -> np.ndarray:
        """The docnums (ascending, unique) of the passages that have words with ``keys`` in a row."""
        first = self.places(keys[0])
        for i, key in enumerate(keys[1:], start=1):
            if not len(first):
                break
            later = self.places(key)
            if not len(later):
                return EMPTY
            first = first[member(first + i, later)]
        return np.unique(first >> SHIFT)
