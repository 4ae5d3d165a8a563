"""A packed postings block reads back what was written: ids, weights, values and the block's header."""

from __future__ import annotations


import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh.filedb.structfile import BufferFile
from whoosh.util.numeric import byte_to_length, length_to_byte

from searchlib import blocks

weights = st.one_of(
    st.lists(st.just(1.0), min_size=1, max_size=1),
    st.lists(st.sampled_from([2.0, 0.5, 3.25]), min_size=1, max_size=1),
    st.lists(st.integers(0, 100_000).map(float), min_size=1, max_size=1),
    st.lists(st.floats(0.01, 1e6, allow_nan=False), min_size=1, max_size=1),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(1, 70_000), min_size=1, max_size=128, unique=True).map(sorted),
    st.sampled_from(["ones", "same", "whole", "floats"]),
    st.integers(0, 2**31),
    st.sampled_from([None, 0, 3]),
    st.booleans(),
    st.sampled_from([0, 3]),
)
def test_blocks_round_trip(ids, kind, seed, fixedsize, last, compression):
    rng = np.random.default_rng(seed % 2**32)
    n = len(ids)
    w = {
        "ones": [1.0] * n,
        "same": [2.5] * n,
        "whole": [float(x) for x in rng.integers(0, 300, n)],
        "floats": [float(x) for x in rng.random(n) * 7 + 0.1],
    }[kind]
    if fixedsize is None:
        values = [bytes(rng.integers(0, 256, int(rng.integers(0, 40)), dtype=np.uint8)) for _ in range(n)]
    elif fixedsize == 0:
        values = [b""] * n
    else:
        values = [bytes(rng.integers(0, 256, 3, dtype=np.uint8)) for _ in range(n)]
    data = blocks.encode_block(ids, w, values, fixedsize, max(w), 3, 900, last=last, compression=compression)
    distances, got_weights, got_values = blocks.decode_data(data[_data_start(data):], _compressed(data), fixedsize)
    assert np.cumsum(distances).tolist() == ids
    if kind == "ones":
        assert got_weights is None
    elif kind == "same":
        assert got_weights == 2.5
    # Equal weights are kept once, as Whoosh's own blocks keep them.
    expanded = [1.0] * n if got_weights is None else [got_weights] * n if isinstance(got_weights, float) else got_weights.tolist()
    assert expanded == w
    if fixedsize is None:
        assert [got_values[i] for i in range(n)] == values and len(got_values) == n
    elif fixedsize == 0:
        assert got_values is None
    else:
        assert got_values == b"".join(values)
    # The header, as the matcher reads it.
    matcher = blocks.LeafMatcher.__new__(blocks.LeafMatcher)
    matcher._postfile = BufferFile(memoryview(data))
    matcher._fixedsize = fixedsize
    matcher._byteids = False
    matcher._goto(0)
    assert (matcher._blocklength, matcher._maxid, matcher._maxweight, matcher._lastblock) == (n, ids[-1], max(w), last)
    assert (matcher._minlength, matcher._maxlength) == (byte_to_length(length_to_byte(3)), byte_to_length(length_to_byte(900)))
    assert matcher._nextoffset == len(data)
    assert matcher.id() == ids[0] and matcher.weight() == w[0]


def _data_start(data: bytes) -> int:
    matcher = blocks.LeafMatcher.__new__(blocks.LeafMatcher)
    matcher._postfile = BufferFile(memoryview(data))
    matcher._goto(0)
    return matcher._dataoffset


def _compressed(data: bytes) -> bool:
    matcher = blocks.LeafMatcher.__new__(blocks.LeafMatcher)
    matcher._postfile = BufferFile(memoryview(data))
    matcher._goto(0)
    return bool(matcher._compression)


def test_blocks_varints_of_every_size():
    from searchlib import varints

    values = [0, 1, 127, 128, 300, 16_383, 16_384, 2**21 + 5, 2**35 + 7]
    out = bytearray()
    for v in values:
        varints.write(out, v)
    assert varints.read_array(bytes(out)).tolist() == values == varints.read_all(bytes(out))
    assert [varints.read(bytes(out), at)[0] for at in (0, 1, 2)] == values[:3]
    assert varints.read_array(b"").tolist() == [] == varints.read_all(b"")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 128), st.sampled_from(["ones", "same", "whole", "floats"]), st.integers(0, 2**31)),
                min_size=1, max_size=8), st.integers(0, 10_000))
def test_blocks_a_whole_list_decodes_as_its_blocks_do(shape, base):
    """decode_list reads every block of a list at once: the same ids and weights as block by block, and where each block is."""
    from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC

    data = bytearray(WHOOSH3_HEADER_MAGIC)
    expected_ids, expected_weights, firsts = [], [], []
    last_id = -1
    for k, (n, kind, seed) in enumerate(shape):
        rng = np.random.default_rng(seed)
        ids = (last_id + 1 + np.cumsum(rng.integers(0, 300, n))).tolist()
        last_id = ids[-1]
        w = {"ones": [1.0] * n, "same": [4.0] * n, "whole": [float(x) for x in rng.integers(0, 9, n)],
             "floats": [float(x) for x in rng.random(n) + 0.25]}[kind]
        firsts.append(len(expected_ids))
        expected_ids += ids
        expected_weights += w
        data += blocks.encode_block(ids, w, [b"\x01"] * n, None, max(w), 1, 1, last=k == len(shape) - 1, compression=3)
    ids, weights, rows = blocks.decode_list(bytes(data), base)
    assert ids.tolist() == expected_ids
    assert weights.tolist() == expected_weights
    assert rows[:, 0].tolist() == firsts
    for (first, start, end, compressed), (n, _, _) in zip(rows.tolist(), shape):
        _, _, values = blocks.decode_data(bytes(data[start - base : end - base]), bool(compressed), None)
        assert len(values) == n
