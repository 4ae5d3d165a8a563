"""The public result types: what :class:`~searchlib.index.Index` returns from a search, a facet, a write or a check.

Plain frozen dataclasses, apart from the code that fills them, so that a
caller finds what the API gives back without reading how it is made.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class EntityMention:
    """A named entity as written in a passage."""

    text: str
    label: str


@dataclass(frozen=True)
class Hit:
    """One passage that matched a search.

    ``matches`` are ``(start, end)`` offsets into ``text``, one per marked
    word: ``text[s:e]`` is the word as written. ``start`` and ``end`` place the
    passage in its document.
    """

    rank: int
    score: float
    doc_id: str
    passage: int
    title: str
    lang: str
    text: str
    start: int
    end: int
    matches: tuple[tuple[int, int], ...]
    highlight: str
    entities: tuple[EntityMention, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the hit, as ``searchlib search --format json`` prints it."""
        data = asdict(self)
        data["matches"] = [list(m) for m in self.matches]
        data["entities"] = [asdict(e) for e in self.entities]
        return data


@dataclass(frozen=True)
class SearchResults:
    """The answer to one search: the ranked hits, the total, and a suggestion."""

    query: str
    total: int
    suggestion: str | None
    hits: tuple[Hit, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "suggestion": self.suggestion,
            "hits": [hit.to_dict() for hit in self.hits],
        }


@dataclass(frozen=True)
class EntityCount:
    """How many passages mention an entity."""

    text: str
    label: str
    passages: int


@dataclass(frozen=True)
class IndexInfo:
    """What an index holds."""

    path: str
    documents: int
    passages: int
    languages: dict[str, int]
    size_bytes: int
    schema_version: int
    searchlib_version: str


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document: its id, title, main language and size."""

    id: str
    title: str
    lang: str
    passages: int
    words: int


@dataclass(frozen=True)
class AddReport:
    """What one call to :meth:`Index.add` did."""

    documents: int
    passages: int
    words: int
    unchanged: int
    empty: int
    #: Documents removed because their file is gone (``prune=True``).
    pruned: int
    seconds: float
    warnings: tuple[str, ...]
    #: Of ``seconds``, the time spent loading language models before analysis.
    model_seconds: float = 0.0


@dataclass(frozen=True)
class CheckReport:
    """What :meth:`Index.check` read and found consistent."""

    documents: int
    passages: int
    segments: int
    #: Postings lists read, one per term of every field.
    terms: int
    #: The commit the index is at: Whoosh's table-of-contents generation.
    generation: int


@dataclass(frozen=True)
class Progress:
    """Sent to an ``on_progress`` callback after each indexed document (and each chunk of a long one)."""

    documents: int
    passages: int
    words: int
    seconds: float
    #: Documents skipped so far: unchanged, or with no text.
    skipped: int = 0
    #: Documents the sources hold, when known before reading them (an upper bound).
    total: int | None = None
    #: Characters analyzed so far; a long document advances by each of its chunks.
    chars: int = 0
    #: Characters of the documents and files skipped so far (unchanged, unreadable, too long...).
    skipped_chars: int = 0
    #: Characters the sources hold, as far as known (text files not yet read count by their size).
    total_chars: int | None = None
    #: A batch is being committed: the analysis of what it holds is done.
    writing: bool = False
