"""Each whoosh3 3.54.0 bug that searchlib works around, shown upstream and fixed here.

If an upstream test here starts failing after a whoosh3 upgrade, the bug is
fixed upstream and the workaround in searchlib/whoosh_fixes.py can go.
"""

import random

import pytest
from whoosh import fields, index
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3Codec

from whoosh import matching

from searchlib.whoosh_fixes import AndNot, Codec, DisjunctionMax, Require, _AndNotMatcher


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    schema = fields.Schema(body=fields.TEXT(), kind=fields.ID(stored=True), group=fields.ID(stored=True, sortable=True))
    ix = index.create_in(str(tmp_path_factory.mktemp("whoosh")), schema)
    writer = ix.writer()
    rnd = random.Random(1)
    for i in range(2000):
        text = " ".join(rnd.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(rnd.randint(1, 30)))
        writer.add_document(body=text, kind="p", group=str(i % 7))
    writer.add_document(body="rare", kind="p", group="x")
    writer.commit()
    with ix.searcher() as s:
        yield s


def scores(searcher, q, limit=None):
    return {hit.docnum: hit.score for hit in searcher.search(q, limit=limit)}


def test_whoosh_fixes_dismax_scores_each_document_by_its_own_best_match(searcher):
    alone = scores(searcher, wq.Term("body", "alpha"))
    mixed = scores(searcher, DisjunctionMax([wq.Term("body", "alpha"), wq.Term("body", "rare")]))
    rare_doc = max(mixed)
    assert mixed.pop(rare_doc) == pytest.approx(scores(searcher, wq.Term("body", "rare"))[rare_doc])
    assert mixed == pytest.approx(alone)


def test_whoosh_fixes_upstream_dismax_gives_other_documents_the_rare_score(searcher):
    upstream = scores(searcher, wq.DisjunctionMax([wq.Term("body", "alpha"), wq.Term("body", "rare")]))
    assert len({round(s, 6) for s in upstream.values()}) == 1  # every doc gets the same (wrong) score


def test_whoosh_fixes_require_survives_top_n_pruning(searcher):
    q = wq.Or([wq.Term("body", "alpha"), wq.Term("body", "beta")])
    top = searcher.search(Require(q, wq.Term("kind", "p")), limit=3)
    full = sorted(scores(searcher, q).values(), reverse=True)[:3]
    assert [h.score for h in top] == pytest.approx(full)
    with pytest.raises(AssertionError):
        searcher.search(wq.Require(q, wq.Term("kind", "p")), limit=3)


def test_whoosh_fixes_collapse_works_with_require_not_with_filter(searcher):
    q = wq.Term("body", "gamma")
    with_require = searcher.search(Require(q, wq.Term("kind", "p")), limit=20, collapse="group")
    assert len({hit["group"] for hit in with_require}) == len(list(with_require)) == 7
    with_filter = searcher.search(q, limit=20, filter=wq.Term("kind", "p"), collapse="group")
    assert len(list(with_filter)) == 20  # upstream: collapsing silently dropped


def test_whoosh_fixes_segment_names_ignore_a_seeded_random():
    random.seed(0)
    ours_1 = Codec().new_segment(None, "MAIN").segid
    random.seed(0)
    ours_2 = Codec().new_segment(None, "MAIN").segid
    assert ours_1 != ours_2
    random.seed(0)
    upstream_1 = W3Codec().new_segment(None, "MAIN").segid
    random.seed(0)
    assert W3Codec().new_segment(None, "MAIN").segid == upstream_1


class _FlatScorer:
    """Every block scores 1: any higher minimum quality skips them all."""

    def supports_block_quality(self):
        return True

    def block_quality(self, matcher):
        return 1.0

    def score(self, matcher):
        return 1.0


@pytest.mark.parametrize(
    "move",
    [lambda matcher: matcher.skip_to_quality(5.0), lambda matcher: matcher.skip_to(5)],
    ids=["pruning", "skip_to"],
)
@pytest.mark.parametrize(("cls", "fails"), [(matching.AndNotMatcher, True), (_AndNotMatcher, False)])
def test_whoosh_fixes_andnot_survives_a_move_that_exhausts_its_positive_side(cls, fails, move):
    matcher = cls(matching.ListMatcher([1, 2, 3], scorer=_FlatScorer()), matching.ListMatcher([7]))
    if fails:
        with pytest.raises(IndexError):
            move(matcher)
    else:
        move(matcher)
        assert not matcher.is_active()


def test_whoosh_fixes_andnot_matches_like_upstream(searcher):
    q = wq.Or([wq.Term("body", "alpha"), wq.Term("body", "beta")])
    ours = searcher.search(AndNot(q, wq.Term("group", "3")), limit=None)
    upstream = searcher.search(wq.AndNot(q, wq.Term("group", "3")), limit=None)
    assert [(h.docnum, h.score) for h in ours] == [(h.docnum, h.score) for h in upstream]


def _short_postings_index(path, codec):
    path.mkdir(parents=True, exist_ok=True)
    schema = fields.Schema(body=fields.TEXT(phrase=True), n=fields.ID(stored=True))
    ix = index.create_in(str(path), schema)
    writer = ix.writer(codec=codec)
    words = ["alpha", "beta", "gamma", "delta", "once"]
    for i in range(40):
        writer.add_document(body=" ".join(words[: 1 + i % 4]) + (" once" if i == 7 else ""), n=str(i))
    writer.commit()
    return ix


def test_whoosh_fixes_upstream_codec_cannot_inline_short_postings(tmp_path):
    with pytest.raises(AttributeError, match="set_inline"):
        _short_postings_index(tmp_path, W3Codec(inlinelimit=8))


def test_whoosh_fixes_codec_inlines_short_postings_and_reads_them_back(tmp_path):
    inlined = _short_postings_index(tmp_path / "inlined", Codec(inlinelimit=8))
    plain = _short_postings_index(tmp_path / "plain", Codec(inlinelimit=1))
    with inlined.searcher() as a, plain.searcher() as b:
        assert a.reader().term_info("body", "once").is_inlined()
        assert not b.reader().term_info("body", "once").is_inlined()
        for q in [wq.Term("body", "once"), wq.Term("body", "alpha"), wq.Phrase("body", ["delta", "once"])]:
            assert scores(a, q) == scores(b, q) and scores(a, q), q


def test_whoosh_fixes_inlined_postings_survive_a_merge(tmp_path):
    # An ID field keeps no values: upstream's inlined list then gives "" and merging asserts bytes.
    path = tmp_path / "merge"
    path.mkdir()
    schema = fields.Schema(body=fields.TEXT(phrase=True), tag=fields.ID(stored=True))
    ix = index.create_in(str(path), schema)
    for batch in range(3):
        writer = ix.writer(codec=Codec(inlinelimit=8))
        for i in range(5):
            writer.add_document(body=f"alpha w{batch}x{i}", tag=f"t{batch}{i}")
        writer.commit(merge=False)
    with ix.searcher() as s:
        before = {q: scores(s, wq.Term(*q)) for q in [("body", "alpha"), ("body", "w1x2"), ("tag", "t21")]}
    ix.writer(codec=Codec(inlinelimit=8)).commit(optimize=True)
    with ix.searcher() as s:
        assert len(s.reader().leaf_readers()) == 1
        after = {q: scores(s, wq.Term(*q)) for q in before}
    assert {q: len(v) for q, v in after.items()} == {q: len(v) for q, v in before.items()} == {
        ("body", "alpha"): 15, ("body", "w1x2"): 1, ("tag", "t21"): 1}


def _segments_of_lengths(tmp_path, name):
    """An index of 4 segments of 50 documents, of lengths 1 to 400 words, no deletion."""
    schema = fields.Schema(body=fields.TEXT())
    (tmp_path / name).mkdir()
    ix = index.create_in(str(tmp_path / name), schema)
    rnd = random.Random(4)
    total = 0
    for _ in range(4):
        writer = ix.writer()
        for _ in range(50):
            n = rnd.randint(1, 400)
            total += n
            writer.add_document(body=" ".join(rnd.choice(["alpha", "beta", "gamma"]) for _ in range(n)))
        writer.commit(merge=False)
    return ix, total


def _merge(writer, segments, add):
    from whoosh.reading import SegmentReader

    for segment in segments:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        add(writer, reader)
        reader.close()
    return []


def test_whoosh_fixes_upstream_merge_changes_the_total_field_length(tmp_path):
    ix, total = _segments_of_lengths(tmp_path, "upstream")
    assert ix.reader().field_length("body") == total
    ix.writer().commit(optimize=True)
    assert ix.reader().field_length("body") != total


def test_whoosh_fixes_merge_keeps_the_exact_field_length_and_every_score(tmp_path):
    from searchlib.whoosh_fixes import add_reader

    ix, total = _segments_of_lengths(tmp_path, "fixed")
    with ix.searcher() as s:
        before = sorted(hit.score for hit in s.search(wq.Term("body", "alpha"), limit=None))
    ix.writer().commit(mergetype=lambda writer, segments: _merge(writer, segments, add_reader))
    assert len(ix._segments()) == 1
    assert ix.reader().field_length("body") == total
    with ix.searcher() as s:
        assert sorted(hit.score for hit in s.search(wq.Term("body", "alpha"), limit=None)) == before
