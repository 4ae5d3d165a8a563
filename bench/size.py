#!/usr/bin/env python3
"""Where a searchlib index's bytes go: every byte of the folder, by field and by part.

    python bench/size.py INDEX_DIR [--sample 20000] [--text-bytes N] [--json OUT]

For every segment of the index (Whoosh's ``whoosh3`` codec, compound or not),
the script reads the segment's own files and charges each byte to a field:

* **term table** (``.trm``): each term's record (its lengths, the field
  number and term bytes of its key, its term info, in which a short postings
  list is *inlined*), plus its two hash slots (and, in Whoosh's own ordered
  hash file, its entry in the ordered index);
* **postings** (``.pst``): the extent of each term's postings list;
* **columns** (``.col``): the field-length column of each scored field, and
  any sortable or vector column;
* **stored**: each record of the ``_stored`` column is one zlib-compressed
  pickle of the record's stored fields. Its compressed length is exact; how
  it splits between the fields is estimated by compressing each field's value
  alone (less the cost of an empty record) and sharing the record's bytes in
  those proportions. With more records than ``--sample``, the shares come
  from an evenly spaced sample and apply to the column's exact total.

What belongs to no field (headers, hash directories, the segment files'
directories, tables of contents, searchlib's own files) is listed by part, and
whatever the parsing could not account for is shown as **unattributed**: a
large figure there means the format changed under this script, not that the
bytes are free. Fields are discovered from the files, never listed here, so a
field added or dropped by a new schema shows up as it is.

The text size the index is compared with is the UTF-8 size of the stored
passage texts (the ``text`` of every live record), unless ``--text-bytes``
gives it (``bench.py`` knows the size of the documents it indexed).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import struct
import sys
import zlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from searchlib import termtable, varints

#: Zlib level of Whoosh's stored column (``CompressedBytesColumn``'s default).
STORED_LEVEL = 3
DEFAULT_SAMPLE = 20_000


class SizeError(Exception):
    """The folder cannot be read as an index; the message says what to do."""


@dataclass
class FieldBytes:
    """What one field costs, in bytes, over all segments."""

    #: Entries in the term tables: a term counts once in each segment that has it.
    terms: int = 0
    #: Term records, hash slots and ordered-index entries (inlined postings included).
    term_table: int = 0
    #: Of ``term_table``: the inlined postings lists.
    inlined: int = 0
    postings: int = 0
    #: Field-length, sortable and vector columns.
    columns: int = 0
    #: Share of the compressed stored records (estimated split, exact total).
    stored: int = 0
    #: The field's pickled values before compression (exact on the records read).
    stored_raw: int = 0

    @property
    def total(self) -> int:
        return self.term_table + self.postings + self.columns + self.stored


@dataclass
class Breakdown:
    path: str
    folder_bytes: int
    segments: int
    records: int
    deleted: int
    text_bytes: int
    text_source: str
    stored_sampled: bool
    fields: dict[str, FieldBytes] = field(default_factory=dict)
    #: Bytes that belong to no field, by part.
    parts: dict[str, int] = field(default_factory=dict)
    #: Bytes of each file that its parsing did not account for, by file kind.
    unattributed: dict[str, int] = field(default_factory=dict)

    def field(self, name: str) -> FieldBytes:
        return self.fields.setdefault(name, FieldBytes())

    def add_part(self, name: str, size: int) -> None:
        self.parts[name] = self.parts.get(name, 0) + size

    def add_unattributed(self, kind: str, size: int) -> None:
        if size:
            self.unattributed[kind] = self.unattributed.get(kind, 0) + size

    @property
    def accounted(self) -> int:
        return sum(f.total for f in self.fields.values()) + sum(self.parts.values())

    def to_dict(self) -> dict:
        data = asdict(self)
        for name, f in self.fields.items():
            data["fields"][name]["total"] = f.total
        data["accounted"] = self.accounted
        return data


# -- reading -----------------------------------------------------------------------


def breakdown(index_dir: str | os.PathLike, *, sample: int = DEFAULT_SAMPLE, text_bytes: int | None = None) -> Breakdown:
    """Read every segment of the index at ``index_dir`` and charge its bytes to fields and parts."""
    from whoosh import index as windex
    from whoosh.codec.whoosh3 import W3Codec

    folder = Path(index_dir)
    if not folder.is_dir():
        raise SizeError(f"{folder} is not a folder: give the folder of a searchlib index")
    try:
        ix = windex.open_dir(str(folder))
    except windex.EmptyIndexError:
        raise SizeError(f"{folder} holds no index: give the folder of a searchlib index") from None
    storage = ix.storage
    indexname = ix.indexname
    segments = ix._segments()  # the TOC's list; whoosh has no public accessor
    files = {entry.name: entry.stat().st_size for entry in os.scandir(folder) if entry.is_file()}
    result = Breakdown(path=str(folder), folder_bytes=sum(files.values()), segments=len(segments),
                       records=sum(s.doc_count_all() for s in segments),
                       deleted=sum(s.deleted_count() for s in segments), text_bytes=0, text_source="",
                       stored_sampled=False)

    claimed: set[str] = set()
    text_total = 0
    for segment in segments:
        if segment.is_compound():
            name = segment.make_filename(segment.COMPOUND_EXT)
            claimed.add(name)
            inner = segment.open_compound_file(storage)
            try:
                names = inner.list()
                contained = sum(inner.file_length(n) for n in names)
                result.add_part("segment files: headers and directories", files.get(name, 0) - contained)
                text_total += _segment(result, segment, inner, names, sample=sample, codec_ok=isinstance(segment.codec(), W3Codec))
            finally:
                inner.close()
        else:
            names = segment.list_files(storage)
            claimed.update(names)
            text_total += _segment(result, segment, storage, names, sample=sample, codec_ok=isinstance(segment.codec(), W3Codec))

    toc = f"_{indexname}_{ix.latest_generation()}.toc"
    segment_name = re.compile(rf"_?{re.escape(indexname)}_")
    for name, size in sorted(files.items()):
        if name in claimed:
            continue
        if name == toc:
            result.add_part("table of contents (schema, segment list)", size)
        elif name.endswith(("LOCK", ".lock")):
            result.add_part("lock files", size)
        elif segment_name.match(name):
            result.add_part("index files not in the current table of contents", size)
        else:
            result.add_part(f"file {name}", size)
    ix.close()

    if text_bytes is not None:
        result.text_bytes, result.text_source = text_bytes, "given"
    else:
        result.text_bytes, result.text_source = text_total, "stored passage texts"
    return result


def _segment(result: Breakdown, segment, storage, names: list[str], *, sample: int, codec_ok: bool) -> int:
    """Charge one segment's files; returns the UTF-8 size of its live records' stored ``text``."""
    prefix = segment.segment_id() + "."
    parts = {(name[len(prefix):] if name.startswith(prefix) else name): name for name in names}
    if not codec_ok:
        for part, name in parts.items():
            result.add_unattributed(f"files of an unknown codec (.{part.rsplit('.', 1)[-1]})", storage.file_length(name))
        return 0
    text = 0
    packed = type(segment.codec()).__module__ == "searchlib.codec"
    extents = _term_table(result, storage, parts.pop("trm"), packed=packed) if "trm" in parts else 0
    if "pst" in parts:
        # Every byte of the postings file lies in some term's extent.
        result.add_unattributed(".pst", storage.file_length(parts.pop("pst")) - extents)
    for part, name in parts.items():
        size = storage.file_length(name)
        if part == "_stored.col":
            text += _stored(result, segment, storage, name, size, sample=sample)
        elif part.endswith(".col"):
            column = part[: -len(".col")]
            owner = re.fullmatch(r"_(.+)_(?:len|vecL?)", column)
            result.field(owner.group(1) if owner else column).columns += size
        else:
            result.add_unattributed(f"other segment files (.{part.rsplit('.', 1)[-1]})", size)
    return text


def _term_table(result: Breakdown, storage, name: str, *, packed: bool = False) -> int:
    """Charge the ``.trm`` file (Whoosh's ordered hash file) and each term's postings; returns the postings bytes charged.

    ``packed``: the entries are searchlib.codec's, not Whoosh's own.
    """
    from whoosh.codec.whoosh3 import W3TermInfo

    from searchlib.codec import TermInfo
    from whoosh.filedb.filetables import OrderedHashReader, _dir_entry, _lengths, _pointer

    size = storage.file_length(name)
    dbfile = storage.open_file(name)
    if bytes(dbfile.get(0, len(termtable._MAGIC))) == termtable._MAGIC:
        try:
            return _searchlib_term_table(result, dbfile, size)
        finally:
            dbfile.close()
    try:
        table = OrderedHashReader(dbfile, size)
        fieldnames = {number: fname for fname, number in table.extras.get("fieldmap", {}).items()}
        data = bytes(dbfile.get(0, size))
        start, end = table.startofdata, table.endofdata
        info_size = W3TermInfo._struct.size
        extent = struct.Struct("!qi")
        key_number = struct.Struct("!H")
        per_term = 2 * _pointer.size + table.indexsize  # two hash slots per key, one ordered-index entry
        pos = start
        terms = claimed = postings = 0
        while pos < end:
            keylen, datalen = _lengths.unpack_from(data, pos)
            keypos = pos + _lengths.size
            datapos = keypos + keylen
            (number,) = key_number.unpack_from(data, keypos)
            f = result.field(fieldnames.get(number, f"(field number {number})"))
            cost = _lengths.size + keylen + datalen + per_term
            f.terms += 1
            f.term_table += cost
            value = data[datapos : datapos + datalen]
            if packed:
                # searchlib.codec's packed entries: decode them to tell postings from statistics.
                info = TermInfo.from_bytes(value)
                if info.is_inlined():
                    f.inlined += datalen - _packed_statistics_size(value)
                else:
                    f.postings += info.extent()[1]
                    postings += info.extent()[1]
            elif data[datapos]:  # flags: the postings are pickled inside the term info
                f.inlined += datalen - info_size
            else:
                _, length = extent.unpack_from(data, datapos + info_size)
                f.postings += length
                postings += length
            claimed += cost
            terms += 1
            pos = datapos + datalen
        # The header, the directory of the 256 hash tables, and the extras
        # (field map, index description); hash slots and the ordered index
        # were charged per term, as long as there are two slots per key.
        overhead = start + 256 * _dir_entry.size + _extras_bytes(data, size) - table.indexlen * table.indexsize
        result.add_part("term tables: headers, hash directories, field maps", overhead)
        slots = sum(numslots for _, numslots in table.tables)
        result.add_unattributed(".trm", size - claimed - overhead - (slots - 2 * terms) * _pointer.size)
        return postings
    finally:
        dbfile.close()


def _searchlib_term_table(result: Breakdown, dbfile, size: int) -> int:
    """Charge searchlib's own term table (searchlib.termtable): each record, and its hash slots, to its field."""
    from searchlib.codec import TermInfo

    table = termtable.TermTableReader(dbfile, size)
    extras = table.extras
    fieldnames = {number: fname for fname, number in extras.get("fieldmap", {}).items()}
    key_number = struct.Struct("!H")
    # Two hash slots per term; a table of no terms has one empty slot, charged as overhead.
    slot_bytes = extras["width"] * (extras["slots"] // max(extras["count"], 1)) if extras["count"] else 0
    terms = claimed = postings = 0
    for key, value, position in table._walk(len(termtable._MAGIC)):
        (number,) = key_number.unpack_from(key, 0)
        f = result.field(fieldnames.get(number, f"(field number {number})"))
        record = len(varints.encode(len(key))) + len(key) + len(varints.encode(len(value))) + len(value)
        cost = record + slot_bytes
        f.terms += 1
        f.term_table += cost
        info = TermInfo.from_bytes(value)
        if info.is_inlined():
            f.inlined += len(value) - _packed_statistics_size(value)
        else:
            f.postings += info.extent()[1]
            postings += info.extent()[1]
        claimed += cost
        terms += 1
    # The magic, the sparse index, the extras (field map, counts) and the trailer.
    overhead = len(termtable._MAGIC) + (size - extras["sparse_at"]) + extras["slots"] * extras["width"] - slot_bytes * terms
    result.add_part("term tables: headers, sparse index, field maps", overhead)
    result.add_unattributed(".trm", size - claimed - overhead)
    return postings


def _packed_statistics_size(value: bytes) -> int:
    """Bytes of a packed entry before its inlined postings: the flags, statistics and ids' start (see searchlib.codec.TermInfo)."""
    from searchlib import codec

    inlined = value[0] & codec._INLINED
    at = 1
    _, at = codec._read_weight(value, at)
    df, at = varints.read(value, at)
    at += 1 if inlined and df == 1 else 2
    if not inlined:
        _, at = codec._read_weight(value, at)
    _, at = varints.read(value, at)
    _, at = varints.read(value, at)
    return at


def _extras_bytes(data: bytes, size: int) -> int:
    """The extras block at the end of a hash file: its pickle and index array, and the length after them."""
    (length,) = struct.unpack_from("!i", data, size - 4)
    return length + 4


def _stored(result: Breakdown, segment, storage, name: str, size: int, *, sample: int) -> int:
    """Charge the ``_stored`` column to the stored fields; returns the UTF-8 size of live records' ``text``."""
    from whoosh.columns import VarBytesColumn

    doccount = segment.doc_count_all()
    dbfile = storage.open_file(name)
    try:
        column = VarBytesColumn().reader(dbfile, 0, size, doccount)  # the compressed bytes, as written
        values = 0
        text = 0
        step = max(1, -(-doccount // sample)) if sample > 0 else 1
        shares: dict[str, float] = defaultdict(float)
        raw: dict[str, int] = defaultdict(int)
        sampled_bytes = 0
        empty = len(zlib.compress(pickle.dumps({}, 2), STORED_LEVEL))
        empty_raw = len(pickle.dumps({}, 2))
        for docnum in range(doccount):
            blob = column[docnum]
            values += len(blob)
            if not blob:
                continue
            record = pickle.loads(zlib.decompress(blob))
            if not segment.is_deleted(docnum) and isinstance(record.get("text"), str):
                text += len(record["text"].encode("utf-8"))
            if docnum % step:
                continue
            costs = {}
            for key, value in record.items():
                alone = pickle.dumps({key: value}, 2)
                raw[key] += len(alone) - empty_raw
                costs[key] = max(1, len(zlib.compress(alone, STORED_LEVEL)) - empty)
            scale = len(blob) / sum(costs.values())
            for key, cost in costs.items():
                shares[key] += cost * scale
            sampled_bytes += len(blob)
        if step > 1:
            result.stored_sampled = True
        charged = 0
        keys = sorted(shares)
        for i, key in enumerate(keys):
            # Shares apply to the column's exact total; the last field takes the rounding.
            part = values - charged if i == len(keys) - 1 else round(values * shares[key] / sampled_bytes)
            result.field(key).stored += part
            result.field(key).stored_raw += round(raw[key] * step)
            charged += part
        index = _varbytes_index_bytes(column, doccount)
        result.add_part("stored records: length and offset arrays", index)
        result.add_unattributed("_stored.col", size - values - index)
        return text
    finally:
        dbfile.close()


def _varbytes_index_bytes(column, doccount: int) -> int:
    """The arrays after a VarBytes column's values: lengths, maybe offsets, and their type codes."""
    lengths = column._lengths.itemsize * doccount + 1
    if column.had_stored_offsets:
        return lengths + column._offsets.itemsize * doccount + 2
    return lengths


# -- printing ----------------------------------------------------------------------


def table(result: Breakdown) -> str:
    """The Markdown table: fields by total bytes, then the parts that belong to no field."""
    folder = result.folder_bytes or 1

    def row(name: str, f: FieldBytes | None, total: int) -> str:
        cells = [f"{f.terms:,}", f"{f.term_table:,}", f"{f.inlined:,}", f"{f.postings:,}", f"{f.columns:,}",
                 f"{f.stored:,}"] if f else [""] * 6
        return f"| {name} | " + " | ".join(cells) + f" | {total:,} | {100 * total / folder:.1f}% |"

    lines = ["| field | term entries | term table | of which inlined postings | postings | columns | stored | total | share |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, f in sorted(result.fields.items(), key=lambda item: (-item[1].total, item[0])):
        lines.append(row(name, f, f.total))
    for name, size in sorted(result.parts.items(), key=lambda item: -item[1]):
        if size:
            lines.append(row(f"({name})", None, size))
    unattributed = sum(result.unattributed.values())
    if result.unattributed:
        what = ", ".join(f"{kind} {size:,}" for kind, size in sorted(result.unattributed.items()))
        lines.append(f"| (unattributed: {what}) | | | | | | | {unattributed:,} | {100 * unattributed / folder:.1f}% |")
    lines.append(f"| **folder** | {sum(f.terms for f in result.fields.values()):,} | | | | | | **{result.folder_bytes:,}** | |")
    lines.append("")
    lines.append(f"accounted for {result.accounted:,} of the folder's {result.folder_bytes:,} bytes "
                 f"(unattributed: {unattributed:,})")
    lines.append(f"{result.segments} segment(s), {result.records:,} records of which {result.deleted:,} deleted; "
                 f"stored fields split by compressing each alone"
                 + (" on a sample of records" if result.stored_sampled else ""))
    if result.text_bytes:
        lines.append(f"index size / text = {result.folder_bytes / result.text_bytes:.2f} x "
                     f"({result.folder_bytes:,} / {result.text_bytes:,} bytes of {result.text_source})")
    else:
        lines.append("index size / text: no stored passage text found; give --text-bytes")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path, help="The folder of a searchlib index.")
    parser.add_argument("--sample", type=int, default=DEFAULT_SAMPLE,
                        help=f"Stored records per segment to split by field, at most (default {DEFAULT_SAMPLE:,}; 0: all).")
    parser.add_argument("--text-bytes", type=int, help="The raw text size to compare with (default: the stored passage texts).")
    parser.add_argument("--json", type=Path, help="Also write the breakdown as JSON here.")
    args = parser.parse_args(argv)
    try:
        result = breakdown(args.index, sample=args.sample, text_bytes=args.text_bytes)
    except SizeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
