"""searchlib: French-first, multilingual full-text search over passages.

Data flows one way, one module per stage::

    sources.py    files, folders, JSONL, stdin  → Document
    languages.py  the registry of languages     → Language
    nlp.py        the spaCy pipeline per language
    analysis.py   Document → passages of whole sentences, lemmas, entities
    schema.py     passages → Whoosh documents (lemma, folded and lexicon fields)
    query.py      query string → Whoosh query, through the index's lexicon
    engine.py     a compiled query → every matching passage's score → the top k
    highlight.py  postings → offsets of the words as written → marks
    index.py      the public API, Index, over the index on disk:
      results.py    what it returns (hits, facets, reports)
      store.py      the index folder: its files, its lock, opening, checking
      writer.py     the batches of Index.add, written and committed
    cli.py        the ``searchlib`` command, a thin layer over index.py
    server.py     ``searchlib serve``: the API over HTTP/JSON, and a search page

>>> from searchlib import open_index
>>> index = open_index("index", create=True)               # doctest: +SKIP
>>> index.add(["corpus"])                                   # doctest: +SKIP
>>> hit = index.search("exploiter").hits[0]                 # doctest: +SKIP
>>> [hit.text[s:e] for s, e in hit.matches]                 # doctest: +SKIP
['exploités']
"""

__version__ = "0.1.0"

from .errors import (
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    InputError,
    ModelNotInstalledError,
    NotAnIndexError,
    QuerySyntaxError,
    SearchlibError,
    UnknownEntityTypeError,
    UnknownLanguageError,
)
from .index import Index, create_index, open_index
from .results import (
    AddReport,
    CheckReport,
    DocumentInfo,
    EntityCount,
    EntityMention,
    Hit,
    IndexInfo,
    Progress,
    SearchResults,
)
from .sources import Document

__all__ = [
    "AddReport",
    "CheckReport",
    "Document",
    "DocumentInfo",
    "EntityCount",
    "EntityMention",
    "Hit",
    "Index",
    "IndexCorruptError",
    "IndexInfo",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexVersionError",
    "InputError",
    "ModelNotInstalledError",
    "NotAnIndexError",
    "Progress",
    "QuerySyntaxError",
    "SearchResults",
    "SearchlibError",
    "UnknownEntityTypeError",
    "UnknownLanguageError",
    "create_index",
    "open_index",
]
