"""How a searchlib index stores its terms: Whoosh's format, with each term's entry packed tight.

A passage index holds many terms that occur in one or two passages only: in
Whoosh's format each costs a fixed 23-byte record of statistics, and, when its
postings are kept in the term table ("inlined"), a pickled tuple of about a
hundred bytes. Here both are written as variable-length integers: a
document number as the distance from the one before, a term frequency as an
integer, a position list as the bytes Whoosh's format already gives it. The
entry of a term found once takes about a dozen bytes instead of 120.

The entries are kept in searchlib's own term table
(:mod:`searchlib.termtable`), which spends about 10 bytes on a term besides
its key and entry where Whoosh's hash file spends 40. Everything else is
Whoosh's ``W3Codec`` (segments, postings blocks, columns, stored fields),
with the fixes of :mod:`searchlib.whoosh_fixes`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from whoosh.codec.base import FieldCursor
from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3TermInfo, W3TermsReader
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length, length_to_byte

from . import blocks, whoosh_fixes
from .varints import read as _read_varint
from .varints import write as _varint
from .termtable import TermTableReader, TermTableWriter
from .whoosh_fixes import Codec as _FixedCodec

_INLINED, _WHOLE_WEIGHTS, _NO_VALUES = 1, 2, 4
_FLOAT = struct.Struct("!f")


class TermInfo(W3TermInfo):
    """A term's statistics and (short) postings, as varints."""

    def to_bytes(self) -> bytes:
        out = bytearray()
        inlined = self._inlined
        flags = 0
        if inlined is not None:
            ids, weights, values = inlined
            flags |= _INLINED
            if all(float(w).is_integer() for w in weights):
                flags |= _WHOLE_WEIGHTS
            if not any(values):
                flags |= _NO_VALUES
        out.append(flags)
        _weight(out, self._weight)
        _varint(out, self._df)
        out.append(0 if self._minlength is None else length_to_byte(self._minlength))
        single = inlined is not None and len(inlined[0]) == 1
        if not single:  # one posting: its length is the shortest and the longest
            out.append(length_to_byte(self._maxlength))
        if inlined is None:  # inlined postings give their highest weight
            _weight(out, self._maxweight)
        # The first document + 1 (0: none), then the last one's distance from it.
        if self._minid is None:
            _varint(out, 0)
            _varint(out, 0)
        else:
            _varint(out, self._minid + 1)
            _varint(out, (self._maxid if self._maxid is not None else self._minid) - self._minid)
        if inlined is None:
            _varint(out, self._offset)
            _varint(out, self._length)
            return bytes(out)
        # The first and last documents are the term's first and last: only those between are written.
        last = ids[0]
        for docnum in ids[1:-1]:
            _varint(out, docnum - last)
            last = docnum
        if not single:  # one posting's weight is the term's total weight
            for weight in weights:
                if flags & _WHOLE_WEIGHTS:
                    _varint(out, int(weight))
                else:
                    out += _FLOAT.pack(weight)
        if not flags & _NO_VALUES:
            for value in values:
                _varint(out, len(value))
                out += value
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> TermInfo:
        info = cls()
        flags = data[0]
        at = 1
        info._weight, at = _read_weight(data, at)
        info._df, at = _read_varint(data, at)
        inlined = flags & _INLINED
        single = inlined and info._df == 1
        info._minlength = byte_to_length(data[at])
        info._maxlength = info._minlength if single else byte_to_length(data[at + 1])
        at += 1 if single else 2
        if not inlined:
            info._maxweight, at = _read_weight(data, at)
        minid, at = _read_varint(data, at)
        span, at = _read_varint(data, at)
        info._minid = None if minid == 0 else minid - 1
        info._maxid = None if minid == 0 else minid - 1 + span
        if not inlined:
            info._offset, at = _read_varint(data, at)
            info._length, at = _read_varint(data, at)
            return info
        count = info._df
        ids = [info._minid]
        last = info._minid
        for _ in range(count - 2):
            delta, at = _read_varint(data, at)
            last += delta
            ids.append(last)
        if count > 1:
            ids.append(info._maxid)
        weights: list[float] = []
        if single:
            weights.append(info._weight)
        else:
            for _ in range(count):
                if flags & _WHOLE_WEIGHTS:
                    whole, at = _read_varint(data, at)
                    weights.append(float(whole))
                else:
                    weights.append(_FLOAT.unpack_from(data, at)[0])
                    at += 4
        info._maxweight = max(weights)
        values: list[bytes] = []
        if not flags & _NO_VALUES:
            for _ in range(count):
                size, at = _read_varint(data, at)
                values.append(bytes(data[at : at + size]))
                at += size
        info._inlined = (tuple(ids), tuple(weights), tuple(values))
        return info


def _weight(out: bytearray, value: float) -> None:
    """A whole weight as a varint (doubled), any other as a float (odd marker)."""
    if float(value).is_integer() and value >= 0:
        _varint(out, int(value) << 1)
    else:
        out.append(1)
        out += _FLOAT.pack(value)


def _read_weight(data: bytes, at: int) -> tuple[float, int]:
    if data[at] == 1:
        return _FLOAT.unpack_from(data, at + 1)[0], at + 5
    value, at = _read_varint(data, at)
    return float(value >> 1), at


class _FieldWriter(W3FieldWriter):
    def __init__(self, codec: Any, storage: Any, segment: Any) -> None:
        # Whoosh's own, with the term table of searchlib.termtable.
        self._codec = codec
        self._storage = storage
        self._segment = segment
        self._fieldname = None
        self._fieldid = None
        self._btext = None
        self._fieldobj = None
        self._format = None
        self._tindex = TermTableWriter(self._create_file(W3Codec.TERMS_EXT))
        self._fieldmap = self._tindex.extras["fieldmap"] = {}
        self._postfile = self._create_file(W3Codec.POSTS_EXT)
        self._postwriter = None
        self._infield = False
        self.is_closed = False

    def start_term(self, btext: bytes) -> None:
        if self._postwriter is None:
            raise Exception("Called start_term before start_field")
        self._btext = btext
        self._postwriter.start_postings(self._fieldobj.format, TermInfo())


class _PostingsWriter(whoosh_fixes._PostingsWriter):
    def _write_block(self, last: bool = False) -> None:
        if self._byteids:
            super()._write_block(last)  # term vectors, which searchlib's schema has none of, keep Whoosh's blocks
        else:
            blocks.write_block(self, last)


class _FieldCursor(FieldCursor):
    """A field's terms in order, from the term table (Whoosh's fuzzy automaton walks one)."""

    def __init__(self, table: TermTableReader, fieldname: str, keycoder: Any, keydecoder: Any, fieldobj: Any) -> None:
        self._table = table
        self._fieldname = fieldname
        self._keycoder = keycoder
        self._keydecoder = keydecoder
        self._fieldobj = fieldobj
        self._start = table.closest(keycoder(fieldname, b""))
        self._pos: int | None = self._start
        self._text: Any = None
        self._entry: bytes | None = None
        self.next()

    def first(self) -> Any:
        self._pos = self._start
        return self.next()

    def find(self, term: Any) -> Any:
        if not isinstance(term, bytes):
            term = self._fieldobj.to_bytes(term)
        self._pos = self._table.closest(self._keycoder(self._fieldname, term))
        return self.next()

    def next(self) -> Any:
        record = self._table.record_at(self._pos) if self._pos is not None else None
        if record is not None:
            key, entry, following = record
            fieldname, text = self._keydecoder(key)
            if fieldname == self._fieldname:
                self._pos = following
                self._text = self._fieldobj.from_bytes(text)
                self._entry = entry
                return self._text
        self._text = self._pos = self._entry = None
        return None

    def text(self) -> Any:
        return self._text

    def term_info(self) -> TermInfo | None:
        return None if self._entry is None else TermInfo.from_bytes(self._entry)

    def is_valid(self) -> bool:
        return self._pos is not None


class _TermsReader(W3TermsReader):
    def __init__(self, codec: Any, dbfile: Any, length: int, postfile: Any) -> None:
        self._codec = codec
        self._dbfile = dbfile
        self._tindex = TermTableReader(dbfile, length)
        self._fieldmap = self._tindex.extras["fieldmap"]
        self._postfile = postfile
        self._fieldunmap = [None] * len(self._fieldmap)
        for fieldname, num in self._fieldmap.items():
            self._fieldunmap[num] = fieldname

    def cursor(self, fieldname: str, fieldobj: Any) -> _FieldCursor:
        return _FieldCursor(self._tindex, fieldname, self._keycoder, self._keydecoder, fieldobj)

    def items(self) -> Any:
        decode = self._keydecoder
        return ((decode(key), TermInfo.from_bytes(value)) for key, value in self._tindex.items())

    def items_from(self, fieldname: str, prefix: bytes) -> Any:
        decode = self._keydecoder
        start = self._keycoder(fieldname, prefix)
        return ((decode(key), TermInfo.from_bytes(value)) for key, value in self._tindex.items_from(start))

    def term_info(self, fieldname: str, tbytes: bytes) -> TermInfo:
        try:
            return TermInfo.from_bytes(self._tindex[self._keycoder(fieldname, tbytes)])
        except KeyError:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}") from None

    # A missing term raises KeyError here, as Whoosh's segment reader expects (it answers 0).
    def frequency(self, fieldname: str, tbytes: bytes) -> float:
        return _read_weight(self._tindex[self._keycoder(fieldname, tbytes)], 1)[0]

    def doc_frequency(self, fieldname: str, tbytes: bytes) -> int:
        return _doc_frequency(self._tindex[self._keycoder(fieldname, tbytes)])

    def prefix_doc_frequencies(self, fieldname: str, prefix: bytes) -> Iterator[tuple[bytes, int]]:
        """``(term, documents)`` of the field's terms that start with ``prefix``, reading only each entry's count."""
        start = self._keycoder(fieldname, prefix)
        cut = len(start) - len(prefix)
        for key, value in self._tindex.items_from(start):
            if not key.startswith(start):
                return
            yield key[cut:], _doc_frequency(value)


def _doc_frequency(entry: bytes) -> int:
    """The document count of a packed term entry, the rest left unread: it follows the flags and the total weight."""
    return _read_varint(entry, _read_weight(entry, 1)[1])[0]


def prefix_doc_frequencies(reader: Any, fieldname: str, prefix: str) -> Iterator[tuple[bytes, int]]:
    """``(term, documents)`` of a segment reader's terms in ``fieldname`` that start with ``prefix``.

    Suggestions walk thousands of terms for their counts alone: decoding
    each whole entry (statistics, inlined postings) costs most of that walk.
    """
    terms = getattr(reader, "_terms", None)
    if isinstance(terms, _TermsReader):
        yield from terms.prefix_doc_frequencies(fieldname, prefix.encode("utf-8"))
    else:
        for btext, info in reader.iter_prefix(fieldname, prefix):
            yield btext, info.doc_frequency()


class Codec(_FixedCodec):
    """Whoosh's codec (with searchlib's fixes), writing and reading packed term entries."""

    def field_writer(self, storage: Any, segment: Any) -> _FieldWriter:
        return _FieldWriter(self, storage, segment)

    def postings_reader(self, dbfile: Any, terminfo: Any, format_: Any, term: Any = None, scorer: Any = None) -> Any:
        if terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term=term, scorer=scorer)
        offset, length = terminfo.extent()
        return blocks.LeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> _PostingsWriter:
        return _PostingsWriter(
            dbfile, blocklimit=self._blocklimit, byteids=byteids, compression=self._compression, inlinelimit=self._inlinelimit
        )

    def terms_reader(self, storage: Any, segment: Any) -> _TermsReader:
        name = segment.make_filename(self.TERMS_EXT)
        return _TermsReader(self, storage.open_file(name), storage.file_length(name), segment.open_file(storage, self.POSTS_EXT))
