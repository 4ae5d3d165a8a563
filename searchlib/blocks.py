"""A postings block as packed integers, where Whoosh pickles a tuple of tuples.

Whoosh's ``W3Codec`` writes each block of up to 128 postings as a pickled
``(ids, weights, values)`` and its header as another pickle: a posting of a
word found once costs about 17 bytes before compression, mostly pickle
opcodes. Here the same three lists are sections of varints (the ids as
distances from the one before, whole weights as integers, each value's length)
followed by the values' bytes; at 2,000 novels' chapters the blocks take a
third of the bytes (``bench/size.py``).

The sections are decoded with NumPy, all of a block's integers at once: the
array engine reads every block of a term's list on its first search.

A block on disk::

    varint  length of the rest << 1 | 1 if it is the list's last block
    varint  postings, varint last id, weight (codec._weight) highest weight,
    byte    compressed, byte shortest field length, byte longest (Whoosh's length bytes)
    data    (zlib-compressed if so) varint bytes of ids, byte weight kind,
            varint bytes of weights, varint bytes of value lengths, then the
            sections: ids, weights, value lengths, values

The matcher presents each block as Whoosh's own does, so that Whoosh's
queries, merges and checks read it unchanged.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import COMPRESSION_MIN_SIZE, WHOOSH3_HEADER_MAGIC, W3LeafMatcher
from whoosh.util.numeric import byte_to_length, length_to_byte

from .varints import read as read_varint
from .varints import read_array
from .varints import write as write_varint

_ALL_ONE, _SAME, _WHOLE, _FLOATS = 0, 1, 2, 3
_FLOAT64 = np.dtype("<f8")
_DOUBLE = struct.Struct("<d")
_HEADER_READ = 40


class Values:
    """A block's values, sliced from one buffer only when asked for (most reads need ids and weights alone)."""

    __slots__ = ("_data", "_ends")

    def __init__(self, data: bytes, ends: np.ndarray) -> None:
        self._data = data
        self._ends = ends

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i: int) -> bytes:
        end = int(self._ends[i])
        return self._data[int(self._ends[i - 1]) if i else 0 : end]

    @property
    def nbytes(self) -> int:
        return len(self._data) + self._ends.nbytes

    @property
    def data(self) -> bytes:
        """Every value's bytes, one after another."""
        return self._data

    @property
    def ends(self) -> np.ndarray:
        """Where each value ends in :attr:`data`."""
        return self._ends


def encode_block(ids: list[int], weights: list[float], values: list[bytes] | None, fixedsize: int | None,
                 maxweight: float, minlength: int, maxlength: int, *, last: bool, compression: int) -> bytes:
    """One block as it goes on disk (see the module's description)."""
    id_bytes = bytearray()
    previous = 0
    for docnum in ids:
        write_varint(id_bytes, docnum - previous)
        previous = docnum
    weight_bytes = bytearray()
    if all(w == 1.0 for w in weights):
        kind = _ALL_ONE
    elif all(w == weights[0] for w in weights):
        kind = _SAME
        _weight(weight_bytes, weights[0])
    elif all(float(w).is_integer() and w >= 0 for w in weights):
        kind = _WHOLE
        for w in weights:
            write_varint(weight_bytes, int(w))
    else:
        kind = _FLOATS
        weight_bytes += np.asarray(weights, dtype=_FLOAT64).tobytes()
    length_bytes = bytearray()
    value_bytes = b""
    if fixedsize is None or fixedsize < 0:
        for value in values or ():
            write_varint(length_bytes, len(value))
        value_bytes = b"".join(values or ())
    elif fixedsize > 0:
        value_bytes = b"".join(values or ())
    data = bytearray()
    write_varint(data, len(id_bytes))
    data.append(kind)
    write_varint(data, len(weight_bytes))
    write_varint(data, len(length_bytes))
    data += id_bytes + weight_bytes + length_bytes + value_bytes
    compressed = 0
    if compression and len(data) >= COMPRESSION_MIN_SIZE:
        packed = zlib.compress(bytes(data), compression)
        if len(packed) < len(data):
            data, compressed = bytearray(packed), 1
    header = bytearray()
    write_varint(header, len(ids))
    write_varint(header, ids[-1])
    _weight(header, maxweight)
    header += bytes((compressed, length_to_byte(minlength), length_to_byte(maxlength)))
    rest = len(header) + len(data)
    out = bytearray()
    write_varint(out, rest << 1 | int(last))
    return bytes(out + header + data)


def _header(data: bytes, at: int) -> tuple[bool, int, int, float, int, int, int, int, int]:
    """A block's header, as :func:`encode_block` writes it: whether it is the list's last,
    its postings, last id, highest weight, compression, shortest and longest length
    bytes, and where its data and the next block start (positions in ``data``)."""
    rest, p = read_varint(data, at)
    following = p + (rest >> 1)
    count, p = read_varint(data, p)
    maxid, p = read_varint(data, p)
    maxweight, p = _read_weight(data, p)
    return bool(rest & 1), count, maxid, maxweight, data[p], data[p + 1], data[p + 2], p + 3, following


def _sections(data: bytes) -> tuple[int, int, int, int, int]:
    """Where a block's (decompressed) data has its sections: its weight kind, then
    where its ids, weights, value lengths and values start (offsets, not copies:
    a list's decoding takes only the ids and weights of each block)."""
    id_size, at = read_varint(data, 0)
    kind = data[at]
    weight_size, at = read_varint(data, at + 1)
    length_size, at = read_varint(data, at)
    return kind, at, at + id_size, at + id_size + weight_size, at + id_size + weight_size + length_size


def decode_data(data: bytes, compressed: bool, fixedsize: int | None) -> tuple[np.ndarray, Any, Any]:
    """A block's ``(id distances, weights, values)`` in the shapes Whoosh's matcher keeps them in."""
    if compressed:
        data = zlib.decompress(data)
    kind, ids_at, weights_at, lengths_at, values_at = _sections(data)
    ids = read_array(data[ids_at:weights_at])
    weights_data = data[weights_at:lengths_at]
    if kind == _ALL_ONE:
        weights: Any = None
    elif kind == _SAME:
        weights = _read_weight(weights_data, 0)[0]
    elif kind == _WHOLE:
        weights = read_array(weights_data).astype(np.float64)
    else:
        weights = np.frombuffer(weights_data, dtype=_FLOAT64).astype(np.float64)
    if fixedsize is None or fixedsize < 0:
        values: Any = Values(bytes(data[values_at:]), np.cumsum(read_array(data[lengths_at:values_at])))
    elif fixedsize == 0:
        values = None
    else:
        values = bytes(data[values_at:])
    return ids, weights, values


def decode_list(data: bytes, base: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A whole postings list (``data``, from its magic on): its docnums, weights, and blocks.

    Each block's header is read in Python, but the ids and weights of all
    blocks are decoded together, a few NumPy calls for the whole list: a
    common word's list has hundreds of blocks. The blocks come one row each:
    the index of the block's first posting, where its data starts and ends
    (``base`` + the position in ``data``), and whether it is compressed.
    """
    at = len(WHOOSH3_HEADER_MAGIC)
    id_sections: list[bytes] = []
    counts: list[int] = []
    weights: list[Any] = []  # per block: an array, or the bytes of whole weights
    whole: list[bytes] = []
    rows: list[tuple[int, int, int, int]] = []
    first = 0
    while True:
        last, n, _, _, compressed, _, _, start, following = _header(data, at)
        rows.append((first, base + start, base + following, compressed))
        block = data[start:following]
        if compressed:
            block = zlib.decompress(block)
        kind, ids_at, weights_at, lengths_at, _ = _sections(block)
        id_sections.append(block[ids_at:weights_at])
        section = block[weights_at:lengths_at]
        if kind == _ALL_ONE:
            weights.append(np.ones(n))
        elif kind == _SAME:
            weights.append(np.full(n, _read_weight(section, 0)[0]))
        elif kind == _WHOLE:
            weights.append(None)
            whole.append(section)
        else:
            weights.append(np.frombuffer(section, dtype=_FLOAT64).astype(np.float64))
        counts.append(n)
        first += n
        if last:
            break
        at = following
    sums = np.cumsum(read_array(b"".join(id_sections)))
    # Each block's ids start from 0 again: take away the running sum at each block's start.
    starts = np.cumsum(counts) - counts
    before = np.zeros(len(counts), dtype=np.int64)
    before[1:] = sums[starts[1:] - 1]
    ids = sums - np.repeat(before, counts)
    if whole:
        decoded = iter(np.split(read_array(b"".join(whole)).astype(np.float64), np.cumsum([c for c, w in zip(counts, weights) if w is None])[:-1]))
        weights = [next(decoded) if w is None else w for w in weights]
    return ids, np.concatenate(weights), np.array(rows, dtype=np.int64)


class LeafMatcher(W3LeafMatcher):
    """Whoosh's matcher over a postings list, reading packed blocks."""

    def _goto(self, position: int) -> None:
        self._data = None
        self._ids = None
        self._weights = None
        self._values = None
        self._i = 0
        (self._lastblock, self._blocklength, self._maxid, self._maxweight, self._compression,
         minlength, maxlength, start, following) = _header(self._postfile.get(position, _HEADER_READ), 0)
        self._minlength = byte_to_length(minlength)
        self._maxlength = byte_to_length(maxlength)
        self._dataoffset = position + start
        self._nextoffset = position + following

    def _read_data(self) -> None:
        raw = self._postfile.get(self._dataoffset, self._nextoffset - self._dataoffset)
        self._data = decode_data(raw, bool(self._compression), self._fixedsize)

    def _read_ids(self) -> None:
        if self._data is None:
            self._read_data()
        self._ids = np.cumsum(self._data[0]).tolist()

    def _read_weights(self) -> None:
        if self._data is None:
            self._read_data()
        weights = self._data[1]
        if weights is None or isinstance(weights, float):
            self._weights = [1.0 if weights is None else weights] * self._blocklength
        else:
            self._weights = weights.tolist()


def write_block(writer: Any, last: bool) -> None:
    """Whoosh's ``W3PostingsWriter._write_block``, writing :func:`encode_block`."""
    if not writer._blockcount:
        writer._postfile.write(WHOOSH3_HEADER_MAGIC)
    writer._terminfo.add_block(writer)
    fixedsize = writer._format.fixed_value_size()
    writer._postfile.write(
        encode_block(
            writer._ids, writer._weights, writer._values, fixedsize, writer._maxweight, writer._minlength,
            writer._maxlength, last=last, compression=writer._compression,
        )
    )
    writer._blockcount += 1
    writer._new_block()


def _weight(out: bytearray, value: float) -> None:
    """A whole weight as a varint (doubled), any other as a double after an odd marker."""
    if float(value).is_integer() and value >= 0:
        write_varint(out, int(value) << 1)
    else:
        out.append(1)
        out += _DOUBLE.pack(value)


def _read_weight(data: bytes, at: int) -> tuple[float, int]:
    if data[at] == 1:
        return _DOUBLE.unpack_from(data, at + 1)[0], at + 9
    value, at = read_varint(data, at)
    return float(value >> 1), at
