"""A segment's term table: every term's key and entry, in key order, found by a compact hash.

Whoosh's ordered hash file spends about 40 bytes on each term besides its key
and its entry: an 8-byte header of lengths, two 12-byte slots in its hash
tables, and a slot in its ordered index. A passage index has millions of
terms, most found in one or two passages, so that overhead was the largest
part of the index (half of it at 2,000 novels' chapters: ``bench/size.py``).
Here a term costs its key, its entry, two varint lengths and two 4-byte hash
slots: about 10 bytes besides key and entry.

The file, written once and read in place::

    records        in key order: varint len(key), key, varint len(entry), entry
    hash slots     2 per term, each a record's position + 1 (0: empty),
                   at crc32(key) mod slots, the next one if taken
    sparse index   the position of every SPARSE-th record, for walks from a key
    extras         a pickle: counts, where the parts start, Whoosh's field map
    trailer        8 bytes: where the extras start

Lookups hash the key and compare it with the record a slot points to; a
walk in key order (prefixes, a fuzzy term's automaton, the whole field)
bisects the sparse index, then reads records one after another.
"""

from __future__ import annotations

import pickle
import struct
import sys
import zlib
from array import array
from collections.abc import Iterator
from typing import Any

from .varints import encode as encode_varint
from .varints import read as read_varint

#: One record in this many is in the sparse index.
SPARSE = 32
#: Hash slots per term: half of them empty, so that a key the table lacks
#: (most lookups, one segment among several) is told after two probes or so.
SLOTS_PER_TERM = 2
_TRAILER = struct.Struct("<Q")
_SLOT = {4: struct.Struct("<I"), 8: struct.Struct("<Q")}
#: Bytes read at once for a record: most keys and entries fit.
_CHUNK = 256
_MAGIC = b"searchlib-terms-1"


class DamagedTermTable(Exception):
    """The term table file is not one this module wrote, or it was cut short."""


class TermTableWriter:
    """Writes the table; keys must come in increasing order (as Whoosh's field writer gives them)."""

    def __init__(self, dbfile: Any) -> None:
        self.dbfile = dbfile
        #: Whoosh's field writer keeps its field map here, as in its own hash file.
        self.extras: dict[str, Any] = {}
        # Arrays, not lists: a merged segment can hold millions of terms.
        self._positions = array("Q")
        self._hashes = array("I")
        self._last = b""
        self._at = 0
        dbfile.write(_MAGIC)
        self._at = len(_MAGIC)

    def add(self, key: bytes, value: bytes) -> None:
        if self._positions and key <= self._last:
            raise ValueError(f"keys must increase: {self._last!r}..{key!r}")
        self._positions.append(self._at)
        self._hashes.append(zlib.crc32(key))
        record = encode_varint(len(key)) + key + encode_varint(len(value)) + value
        self.dbfile.write(record)
        self._at += len(record)
        self._last = key

    def close(self) -> None:
        end_of_records = self._at
        count = len(self._positions)
        slots = max(1, SLOTS_PER_TERM * count)
        width = 4 if end_of_records + 1 < 2**32 else 8
        table = array("I" if width == 4 else "Q", bytes(width * slots))
        for position, hashed in zip(self._positions, self._hashes):
            at = hashed % slots
            while table[at]:
                at = at + 1 if at + 1 < slots else 0
            table[at] = position + 1
        hashes_at = self._at
        self.dbfile.write(_little(table).tobytes())
        sparse_at = hashes_at + slots * width
        sparse = self._positions[::SPARSE]
        self.dbfile.write(_little(sparse).tobytes())
        extras_at = sparse_at + 8 * len(sparse)
        extras = {
            **self.extras,
            "count": count,
            "end_of_records": end_of_records,
            "hashes_at": hashes_at,
            "slots": slots,
            "width": width,
            "sparse_at": sparse_at,
            "sparse": len(sparse),
        }
        self.dbfile.write(pickle.dumps(extras, protocol=4))
        self.dbfile.write(_TRAILER.pack(extras_at))
        self.dbfile.close()


class TermTableReader:
    """Reads a table in place: lookups by key, and walks in key order."""

    def __init__(self, dbfile: Any, length: int) -> None:
        self.dbfile = dbfile
        if length < len(_MAGIC) + _TRAILER.size or dbfile.get(0, len(_MAGIC)) != _MAGIC:
            raise DamagedTermTable("the term table does not start as one")
        try:
            (extras_at,) = _TRAILER.unpack(dbfile.get(length - _TRAILER.size, _TRAILER.size))
            self.extras: dict[str, Any] = pickle.loads(dbfile.get(extras_at, length - _TRAILER.size - extras_at))
            self.extras["count"], self.extras["sparse_at"]
        except (EOFError, KeyError, TypeError, ValueError, struct.error, pickle.UnpicklingError) as exc:
            raise DamagedTermTable(f"the term table's description cannot be read ({type(exc).__name__}: {exc})") from None
        self._count: int = self.extras["count"]
        self._end: int = self.extras["end_of_records"]
        self._hashes_at: int = self.extras["hashes_at"]
        self._slots: int = self.extras["slots"]
        self._width: int = self.extras["width"]
        self._slot = _SLOT[self._width]
        n = self.extras["sparse"]
        self._sparse: tuple[int, ...] = struct.unpack(f"<{n}Q", dbfile.get(self.extras["sparse_at"], 8 * n)) if n else ()
        self._sparse_keys: dict[int, bytes] = {}

    def __len__(self) -> int:
        return self._count

    # -- lookups -------------------------------------------------------------

    def get(self, key: bytes, default: Any = None) -> Any:
        """The entry of ``key``, or ``default``."""
        if not self._count:
            return default
        slots, get, unpack = self._slots, self.dbfile.get, self._slot.unpack
        at = zlib.crc32(key) % slots
        while True:
            (position,) = unpack(get(self._hashes_at + at * self._width, self._width))
            if not position:
                return default
            found, value, _ = self._record(position - 1)
            if found == key:
                return value
            at = at + 1 if at + 1 < slots else 0

    def __getitem__(self, key: bytes) -> bytes:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: bytes) -> bool:
        return self.get(key) is not None

    # -- walks in key order ----------------------------------------------------

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        for key, value, _ in self._walk(len(_MAGIC)):
            yield key, value

    def items_from(self, key: bytes) -> Iterator[tuple[bytes, bytes]]:
        """``(key, entry)`` of every key from ``key`` on, in order."""
        for found, value, _ in self._walk(self._position_before(key)):
            if found >= key:
                yield found, value

    def keys(self) -> Iterator[bytes]:
        for key, _ in self.items():
            yield key

    def keys_from(self, key: bytes) -> Iterator[bytes]:
        for found, _ in self.items_from(key):
            yield found

    def closest(self, key: bytes) -> int | None:
        """Where the first record whose key is ``key`` or after it starts (None: past the end)."""
        for found, _, position in self._walk(self._position_before(key)):
            if found >= key:
                return position
        return None

    def record_at(self, position: int) -> tuple[bytes, bytes, int] | None:
        """The ``(key, entry, next position)`` of the record at ``position`` (None: past the end)."""
        if position >= self._end:
            return None
        return self._record(position)

    def close(self) -> None:
        self.dbfile.close()

    # -- records ---------------------------------------------------------------

    def _position_before(self, key: bytes) -> int:
        """Where a walk to ``key`` starts: the last sparse record at or before it.

        A binary search that reads only the keys it compares (and keeps
        them): reading every sparse key would make a cold search wait.
        """
        low, high = 0, len(self._sparse)
        while low < high:
            middle = (low + high) // 2
            found = self._sparse_keys.get(middle)
            if found is None:
                found = self._sparse_keys[middle] = self._record(self._sparse[middle])[0]
            if found <= key:
                low = middle + 1
            else:
                high = middle
        return self._sparse[low - 1] if low else len(_MAGIC)

    def _walk(self, position: int) -> Iterator[tuple[bytes, bytes, int]]:
        end = self._end
        while position < end:
            key, value, following = self._record(position)
            yield key, value, position
            position = following

    def _record(self, position: int) -> tuple[bytes, bytes, int]:
        """``(key, entry, where the next record starts)``."""
        data = self.dbfile.get(position, min(_CHUNK, self._end - position))
        keylen, at = read_varint(data, 0)
        if at + keylen + 5 > len(data):
            data = self.dbfile.get(position, at + keylen + 5)
        key = data[at : at + keylen]
        at += keylen
        valuelen, at = read_varint(data, at)
        if at + valuelen > len(data):
            data = self.dbfile.get(position, at + valuelen)
        return key, data[at : at + valuelen], position + at + valuelen


def _little(values: array) -> array:
    """``values`` in little-endian byte order, as the file holds them."""
    if sys.byteorder == "big":
        values = array(values.typecode, values)
        values.byteswap()
    return values
