"""The packed term entries read back exactly what Whoosh's own format does, in fewer bytes."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import fields, index
from whoosh import query as wq

from searchlib import codec, whoosh_fixes


def _info(ids, weights, values, *, inlined):
    info = codec.TermInfo()
    info._weight = float(sum(weights))
    info._df = len(ids)
    # One posting has one field length: the shortest and the longest.
    info._minlength, info._maxlength = (40, 40) if len(ids) == 1 else (1, 40)
    info._maxweight = float(max(weights))
    info._minid, info._maxid = ids[0], ids[-1]
    if inlined:
        info.set_inlined(ids, weights, values)
    else:
        info.set_extent(123_456_789, 4321)
    return info


postings = st.lists(st.tuples(st.integers(0, 3), st.sampled_from([1.0, 2.0, 7.0, 0.5, 1234.0]), st.binary(max_size=6)),
                    min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(postings, st.integers(0, 10**7), st.booleans())
def test_codec_term_info_round_trips(items, first, inlined):
    ids = []
    for gap, _, _ in items:
        ids.append((ids[-1] + 1 + gap) if ids else first)
    weights = [w for _, w, _ in items]
    values = [v for _, _, v in items]
    if not any(values):
        values = []  # as Whoosh keeps them for a format without values
    written = _info(ids, weights, values, inlined=inlined)
    read = codec.TermInfo.from_bytes(written.to_bytes())
    assert (read.weight(), read.doc_frequency(), read.min_id(), read.max_id(), read.max_weight()) == (
        sum(weights), len(ids), ids[0], ids[-1], max(weights))
    assert (read.min_length(), read.max_length()) == ((40, 40) if len(ids) == 1 else (1, 40))
    if inlined:
        assert read.inlined_postings() == (tuple(ids), tuple(weights), tuple(values))
    else:
        assert read.extent() == (123_456_789, 4321)


def _build(path, make_codec):
    path.mkdir()
    schema = fields.Schema(body=fields.TEXT(phrase=True), tag=fields.ID(stored=True), n=fields.NUMERIC(stored=True))
    ix = index.create_in(str(path), schema)
    words = [f"w{i}" for i in range(400)]
    for batch in range(3):
        writer = ix.writer(codec=make_codec())
        for i in range(200):
            n = batch * 200 + i
            body = " ".join(words[(n * k) % len(words)] for k in range(1, 2 + n % 9)) + " common"
            writer.add_document(body=body, tag=f"t{n % 50}", n=n)
        writer.commit(merge=False)
    return ix


def test_codec_index_reads_as_whoosh_format_does_and_is_smaller(tmp_path):
    packed = _build(tmp_path / "packed", codec.Codec)
    plain = _build(tmp_path / "plain", lambda: whoosh_fixes.Codec(inlinelimit=8))
    queries = [wq.Term("body", "common"), wq.Term("body", "w7"), wq.Term("tag", "t3"), wq.Phrase("body", ["w1", "w2"]),
               wq.Prefix("body", "w1"), wq.Or([wq.Term("body", "w3"), wq.Term("body", "w399")])]
    with packed.searcher() as a, plain.searcher() as b:
        ra, rb = a.reader(), b.reader()
        assert sorted(ra.all_terms()) == sorted(rb.all_terms())
        for term in ra.all_terms():
            assert (ra.doc_frequency(*term), ra.frequency(*term)) == (rb.doc_frequency(*term), rb.frequency(*term)), term
        # Suggestions read the counts alone, term by term, segment by segment.
        for (sa, _), (sb, _) in zip(ra.leaf_readers(), rb.leaf_readers()):
            for prefix in ("", "w", "w1", "w399", "zz"):
                expected = [(t, info.doc_frequency()) for t, info in sb.iter_prefix("body", prefix)]
                assert list(codec.prefix_doc_frequencies(sa, "body", prefix)) == expected, prefix
                assert prefix in ("zz", "w399") or expected
        for q in queries:
            found = {h.docnum: round(h.score, 9) for h in a.search(q, limit=None)}
            assert found == {h.docnum: round(h.score, 9) for h in b.search(q, limit=None)} and found, q
    packed.writer(codec=codec.Codec()).commit(optimize=True)
    with packed.searcher() as a:
        assert {h.docnum for h in a.search(queries[1], limit=None)} == {h.docnum for h in b_results(plain, queries[1])}

    def size(ix):
        return sum(os.path.getsize(os.path.join(ix.storage.folder, f)) for f in os.listdir(ix.storage.folder))

    plain.writer(codec=whoosh_fixes.Codec(inlinelimit=8)).commit(optimize=True)
    assert size(packed) < 0.8 * size(plain)


def b_results(ix, q):
    with ix.searcher() as s:
        return list(s.search(q, limit=None))


def test_codec_word_offsets_read_back_exactly():
    """A passage's word offsets (schema.encode_words): short values take a fast path, long ones varints."""
    import random

    from searchlib.schema import decode_words, encode_words

    rng = random.Random(2026)
    for _ in range(2000):
        words, last = [], 0
        for _ in range(rng.randrange(0, 80)):
            start = last + rng.choice([0, 1, 1, 2, 5, 130, 20_000])
            end = start + rng.choice([1, 3, 7, 127, 128, 1_000])
            words.append((start, end))
            last = end
        assert decode_words(encode_words(words)) == words


def test_codec_word_offsets_read_at_a_position_as_decoded():
    """A phrase reads one word's offsets (schema.WordOffsets): the same as decoding them all, short values and long."""
    import random

    from searchlib.schema import WordOffsets, decode_words, encode_words

    rng = random.Random(11)
    for long in (False, True):
        for _ in range(200):
            words, at = [], rng.randrange(0, 3)
            for _ in range(rng.randrange(0, 60)):
                start = at + rng.randrange(0, 300 if long else 3)
                end = start + rng.randrange(1, 200 if long else 12)
                words.append((start, end))
                at = end
            data = encode_words(words)
            lazy = WordOffsets(data)
            assert len(lazy) == len(words) == len(decode_words(data))
            assert [lazy[p] for p in range(len(words))] == words
            if words:
                assert lazy[-1] == words[-1]
