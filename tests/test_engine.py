"""The array engine ranks exactly as Whoosh's matchers do, one posting at a time.

``searchlib.engine.reference_rank`` scores the same compiled query through
Whoosh's own matchers, without pruning: the specification. Every query kind,
several segments, deleted documents, both modes, and both weightings.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import CORPUS, doc, read_jsonl, shared
from test_parallel import eltec

from searchlib import create_index
from searchlib.engine import reference_rank
from searchlib.ranking import DEFAULT

QUERIES = [
    "maison", "jeune fille", '"jeune fille"', '"la jeune fille"', "amour~", "prince*", "ch?teau", "Paris",
    "entity:Paris", "type:PER", "maison NOT porte", "NOT maison", "maison AND (porte OR fenêtre)", "title:roman",
    "lang:fr", "inconnuxyz", "de la", "été", "maison ANDMAYBE porte", "traite des êtres humains", "victimes",
    '"Convention de Palerme"', "le la les", "Quel est le nom de la capitale de la France ?", '"jeune fille"~3', '"maison porte"~6',
    'title:"la jeune"', '"avant de lui"', '"de la"', '"elle ne"',
]


@pytest.fixture(scope="module")
def engine_index(tmp_path_factory):
    """Several segments (small batches), deleted documents (re-indexed ones), two languages, the article."""
    index = create_index(tmp_path_factory.mktemp("engine") / "index")
    novels = eltec(40)
    index.add(novels, jobs=1, batch_size=10)
    index.add([doc(d.id, d.text + "\n\nUne maison de plus.", title=d.title) for d in novels[:20:3]], jobs=1)
    index.add([CORPUS], jobs=1)
    ntrex = shared("ntrex128/corpus.jsonl")
    german = [json.loads(line) for line in ntrex.read_text(encoding="utf-8").splitlines()]
    index.add([doc(d["id"], d["text"], lang="de") for d in german if d["lang"] == "de"][:10], jobs=1)
    return index


def _both(index, query, *, plain, per_doc, limit, ranking):
    engine = index.search(query, plain=plain, per_doc=per_doc, limit=limit, highlight=False, ranking=ranking)
    original = index._rank

    def whoosh_rank(searcher, q, document_terms, ranking, *, limit, per_doc):
        return reference_rank(searcher, q, document_terms, ranking.document_weight, limit=limit, per_doc=per_doc)

    index._rank = whoosh_rank
    try:
        reference = index.search(query, plain=plain, per_doc=per_doc, limit=limit, highlight=False, ranking=ranking)
    finally:
        index._rank = original
    return engine, reference


@pytest.mark.slow
@pytest.mark.parametrize("ranking", [DEFAULT, replace(DEFAULT, field_statistics=False), replace(DEFAULT, document_weight=0.0)],
                         ids=["default", "whoosh-bm25f", "no-document-level"])
@pytest.mark.parametrize("per_doc", [False, True])
def test_engine_ranks_as_whoosh_matchers_do(engine_index, per_doc, ranking):
    assert len(engine_index._ix.reader().leaf_readers()) > 1 and engine_index._ix.reader().has_deletions()
    compared = 0
    for query in QUERIES:
        for plain in (False, True):
            if plain and not query.replace(" ", "").isalpha():
                continue
            engine, reference = _both(engine_index, query, plain=plain, per_doc=per_doc, limit=50, ranking=ranking)
            assert engine.total == reference.total, query
            assert [(h.doc_id, h.passage) for h in engine.hits] == [(h.doc_id, h.passage) for h in reference.hits], query
            assert [h.score for h in engine.hits] == pytest.approx([h.score for h in reference.hits], rel=1e-9, abs=1e-4)
            compared += bool(engine.total)
    assert compared >= 20


@pytest.mark.slow
@pytest.mark.parametrize("filters", [{}, {"entity": "Paris"}, {"entity_type": "PER"}, {"lang": "de"}])
def test_engine_filters_rank_as_whoosh_matchers_do(engine_index, filters):
    for query in ["maison", "Paris", "jeune fille", "Regierung", "traite"]:
        engine = engine_index.search(query, limit=30, highlight=False, **filters)
        original = engine_index._rank
        engine_index._rank = lambda s, q, dt, r, *, limit, per_doc: reference_rank(s, q, dt, r.document_weight, limit=limit, per_doc=per_doc)
        try:
            reference = engine_index.search(query, limit=30, highlight=False, **filters)
        finally:
            engine_index._rank = original
        assert engine.total == reference.total, (query, filters)
        assert [(h.doc_id, h.passage) for h in engine.hits] == [(h.doc_id, h.passage) for h in reference.hits], (query, filters)


@pytest.mark.slow
def test_engine_compiled_queries_are_normalized_as_whoosh_does(engine_index, monkeypatch):
    """searchlib.query.normalized skips Whoosh's deep copies; the tree must be the one ``normalize()`` gives."""
    import searchlib.query

    light = searchlib.query.normalized
    compared = []

    def checked(q):
        expected = q.normalize()
        got = light(q)
        assert got == expected, f"{q!r}: {got!r} != {expected!r}"
        compared.append(q)
        return got

    monkeypatch.setattr(searchlib.query, "normalized", checked)
    piaf = [json.loads(line)["text"] for line in shared("piaf/queries.jsonl").read_text(encoding="utf-8").splitlines()[:200:4]]
    for query in QUERIES + piaf:
        engine_index.search(query, plain=query in piaf, limit=5, highlight=False)
        engine_index.search(query, plain=query in piaf, limit=5, highlight=False, per_doc=True, lang="fr")
    assert len(compared) > 1000


@pytest.mark.slow
def test_engine_fuzzy_terms_expand_to_whooshs_terms_within(engine_index):
    """Fuzzy terms are expanded once, with rapidfuzz: the terms Whoosh's own Damerau-Levenshtein walk finds."""
    import random

    from searchlib.query import Vocabulary

    reader = engine_index._ix.reader()
    vocabulary = Vocabulary(reader)
    words = [t.decode("utf-8") for t in reader.lexicon("fold_fr")]
    words = [w for w in words if w.isalpha() and len(w) >= 5]
    rng = random.Random(2026)
    compared = 0
    for word in rng.sample(words, 60):
        i = rng.randrange(1, len(word) - 1)
        typos = [word[:i] + word[i + 1 :], word[:i] + word[i + 1] + word[i] + word[i + 2 :], word[:i] + "x" + word[i + 1 :]]
        for typo in typos:
            for maxdist in (1, 2):
                expected = sorted(t.decode("utf-8") if isinstance(t, bytes) else t for t in reader.terms_within("fold_fr", typo, maxdist, prefix=1))
                got = vocabulary.within("fold_fr", typo, maxdist, 1)
                assert got == expected, (typo, maxdist)
                compared += bool(got)
    assert compared >= 200


@pytest.mark.slow
def test_engine_positions_are_whooshs_read_straight_from_their_block(piaf_index):
    """Highlighting reads a posting's positions from the block its place in the list points to:
    the positions Whoosh's matcher gives, for long lists of many blocks and short ones kept in the term table."""
    import random

    from searchlib.engine import Engine
    from searchlib.highlight import _read_positions

    rng = random.Random(7)
    with piaf_index._reading() as searcher:
        reader = searcher.reader()
        by_size = sorted(((reader.doc_frequency("fold_fr", t), t.decode("utf-8")) for t in reader.lexicon("fold_fr")), reverse=True)
        terms = [("fold_fr", t) for _, t in by_size[:20] + rng.sample(by_size, 200)]
        terms += [("lemma_fr", t.decode("utf-8")) for t in rng.sample(list(reader.lexicon("lemma_fr")), 100)]
        docnums = sorted(rng.sample(range(reader.doc_count_all()), reader.doc_count_all() // 2))
        expected = {n: dict(found) for n, found in _read_positions(searcher, terms, docnums).items()}
        assert Engine().positions(searcher, terms, docnums) == expected
        assert by_size[0][0] > 3 * 128  # lists of several blocks (of 128 postings) were read
        assert sum(len(found) for found in expected.values()) > 1000


class _ReadEnough(dict):
    """An engine's count of passages read one by one that says "enough" at once: every phrase uses the word table."""

    def get(self, key, default=None):
        return 1 << 40


@pytest.mark.slow
@pytest.mark.parametrize("way", ["word-table", "reading"])
def test_engine_phrases_are_found_as_whoosh_matchers_find_them(piaf_index, monkeypatch, way):
    """Spans of PIAF's paragraphs as phrases, exact or with a slop, with and without function words:
    the engine finds the passages Whoosh's matchers find, whether it reads the candidates
    one by one or uses the segment's word table (see Engine._word_table)."""
    import random
    import re

    from searchlib.engine import Engine

    engine = Engine()
    if way == "reading":
        monkeypatch.setattr(engine, "_word_table", lambda segment, reads: None)
    else:
        monkeypatch.setattr(engine, "_reads", _ReadEnough())
    monkeypatch.setattr(piaf_index, "_engine", engine)
    rng = random.Random(11)
    texts = [d["text"] for d in read_jsonl(shared("piaf/corpus.jsonl"))]
    queries = ['"de la"', '"il y a"', '"qui est"', '"dans le"', '"à la fin"', '"elle avait"', '"ce qui"', '"Convention de Palerme"']
    while len(queries) < 160:
        words = [w.strip(".,;:!?()«»[]\"") for w in rng.choice(texts).split()]
        start, size = rng.randrange(len(words)), rng.choice((2, 2, 3, 4))
        span = [w for w in words[start:start + size] if re.fullmatch(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", w)]
        if len(span) >= 2:
            queries.append(f'"{" ".join(span)}"' + rng.choice(["", "", "", "~3"]))
    found = 0
    for query in queries:
        engine_found, reference = _both(piaf_index, query, plain=False, per_doc=False, limit=200, ranking=DEFAULT)
        assert engine_found.total == reference.total, query
        assert [(h.doc_id, h.passage) for h in engine_found.hits] == [(h.doc_id, h.passage) for h in reference.hits], query
        found += bool(reference.total)
    assert found >= 150
    assert engine._kept(("words", engine._segments(piaf_index._ix.searcher())[0].key)) is not None or way == "reading"


@pytest.mark.slow
def test_engine_places_are_whooshs_positions(piaf_index):
    """A term's places, decoded from all its blocks at once, are the positions Whoosh's matcher reads one posting at a time."""
    import random

    from searchlib.engine import Engine
    from searchlib.wordtable import SHIFT

    rng = random.Random(5)
    engine = Engine()
    with piaf_index._reading() as searcher:
        segment = engine._segments(searcher)[0]
        reader = segment.reader
        by_size = sorted(((reader.doc_frequency("fold_fr", t), t) for t in reader.lexicon("fold_fr")), reverse=True)
        for _, text in by_size[:10] + rng.sample(by_size, 300):
            expected = [(n, p) for n, positions in reader.postings("fold_fr", text).items_as("positions") for p in positions]
            places = engine._term_places(segment, "fold_fr", text)
            assert [(int(x >> SHIFT), int(x & ((1 << SHIFT) - 1))) for x in places] == expected, text


def test_engine_columns_read_at_once_are_whooshs(engine_index):
    """Doc ids and field lengths are read a column at a time (the first search after opening reads them all):
    the values Whoosh's column readers give one document at a time, in every segment."""
    import numpy as np
    from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

    from searchlib.engine import _LENGTHS, _column_values, _field_lengths

    compared = 0
    with engine_index._reading() as searcher:
        for segment, _ in searcher.reader().leaf_readers():
            size = segment.doc_count_all()
            column = segment.column_reader("doc_id")
            assert _column_values(segment, "doc_id", size) == [column[n] for n in range(size)]
            for fieldname in ("fold_fr", "dfold_fr", "lemma_fr", "tfold_fr", "fold_de"):
                if segment._perdoc.has_column(_lenfield(fieldname)):
                    lengths = segment._perdoc.column_reader(_lenfield(fieldname), LENGTHS_COLUMN)
                    expected = _LENGTHS[np.asarray([lengths[n] for n in range(size)], dtype=np.uint8)]
                    assert np.array_equal(_field_lengths(segment, fieldname), expected), fieldname
                    compared += 1
    assert compared >= 8
