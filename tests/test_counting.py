"""NumPy match counts equal Whoosh's, query kind by query kind, deletions and segments included."""

from __future__ import annotations

import pytest
from conftest import doc
from test_parallel import eltec

from searchlib import create_index
from searchlib.counting import Counter
from searchlib.schema import KIND_DOC
from searchlib.whoosh_fixes import AndNot

QUERIES = [
    "maison", "jeune fille", '"jeune fille"', '"la jeune fille"', "amour~", "amour~2", "prince*", "ch?teau",
    "Paris", "entity:Paris", "type:PER", "maison NOT porte", "NOT maison", "maison AND (porte OR fenêtre)",
    "title:roman", "lang:fr", "doc:nothing", "inconnuxyz", "de la", "été", "maison ANDMAYBE porte",
]


@pytest.fixture(scope="module")
def counted_index(tmp_path_factory):
    """Several segments (small batches) and deleted documents (re-indexed ones)."""
    index = create_index(tmp_path_factory.mktemp("counting") / "index")
    novels = eltec(60)
    index.add(novels, jobs=1, batch_size=15)
    index.add([doc(d.id, d.text + "\n\nUne maison de plus.", title=d.title) for d in novels[:20:3]], jobs=1)
    return index


@pytest.mark.parametrize("text", QUERIES)
def test_counting_equals_whoosh_for_every_kind_of_query(counted_index, text):
    with counted_index._reading() as searcher:
        assert searcher.reader().doc_count() < searcher.reader().doc_count_all() and len(searcher.leaf_searchers()) > 1
        from searchlib.query import QueryCompiler

        compiled = QueryCompiler(searcher.reader(), counted_index._languages(searcher.reader())).compile(text)
        query = AndNot(compiled.query, _kind_doc())
        counter = Counter(searcher.reader())
        assert counter.count(searcher, query) == len(searcher.search(query, limit=1))
        whole = {searcher.stored_fields(n)["doc_id"] for n in searcher.docs_for_query(query)}
        assert counter.count_distinct(searcher, query, "doc_id") == len(whole)


def _kind_doc():
    from whoosh import query as wq

    return wq.Term("kind", KIND_DOC)
