"""The term table finds every key it holds, no key it lacks, and walks its keys in order from any key."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh.filedb.structfile import BufferFile, StructFile

from searchlib.termtable import SPARSE, TermTableReader, TermTableWriter


class _Keep(io.BytesIO):
    def close(self) -> None:  # the writer closes its file; keep the bytes to read back
        pass


def _table(items: dict[bytes, bytes]) -> TermTableReader:
    out = _Keep()
    writer = TermTableWriter(StructFile(out))
    writer.extras["fieldmap"] = {"body": 0}
    for key in sorted(items):
        writer.add(key, items[key])
    writer.close()
    data = out.getvalue()
    return TermTableReader(BufferFile(memoryview(data)), len(data))


keys = st.binary(min_size=1, max_size=40)
entries = st.binary(max_size=300)  # longer than a first read of a record, sometimes


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(keys, entries, max_size=3 * SPARSE + 5), st.lists(keys, max_size=30))
def test_termtable_lookups_and_walks_match_a_sorted_dict(items, probes):
    table = _table(items)
    ordered = sorted(items.items())
    assert len(table) == len(items)
    assert list(table.items()) == ordered
    assert table.extras["fieldmap"] == {"body": 0}
    for key in list(items)[:50] + probes:
        assert table.get(key) == items.get(key)
        assert (key in table) == (key in items)
        assert list(table.items_from(key)) == [(k, v) for k, v in ordered if k >= key]
    assert list(table.items_from(b"")) == ordered


def test_termtable_of_many_terms_and_long_entries():
    items = {f"{i:07d}-{'x' * (i % 50)}".encode(): bytes([i % 256]) * (i % 700) for i in range(0, 60_000, 3)}
    table = _table(items)
    for i in range(0, 60_000, 97):
        key = f"{i:07d}-{'x' * (i % 50)}".encode()
        assert table.get(key) == items.get(key)
        following = [k for k in sorted(items) if k >= key][:5]
        assert [k for k, _ in zip(table.keys_from(key), range(5))] == following
    assert table.get(b"0000001-x") is None and b"9" not in table
    # Two hash slots per term: a lookup of a missing key stops at the first empty one.
    assert table.extras["slots"] == 2 * len(items)


def test_termtable_cut_short_is_reported_as_damaged():
    import pytest

    from searchlib.termtable import DamagedTermTable

    out = _Keep()
    writer = TermTableWriter(StructFile(out))
    writer.extras["fieldmap"] = {}
    for i in range(100):
        writer.add(b"%05d" % i, b"entry")
    writer.close()
    data = out.getvalue()
    for cut in (data[: len(data) // 2], data[:10], b"not a table at all"):
        with pytest.raises(DamagedTermTable):
            TermTableReader(BufferFile(memoryview(cut)), len(cut))
