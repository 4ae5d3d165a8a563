"""Every error searchlib raises on purpose, each with a message that says what to do.

The library never prints and never exits: it raises one of these, and the CLI
turns them into a one-line ``Error: ...`` message.
"""

from __future__ import annotations


class SearchlibError(Exception):
    """Base class: every deliberate searchlib error derives from it."""


class IndexNotFoundError(SearchlibError):
    """No index at the given path: build one with ``searchlib index``."""


class NotAnIndexError(SearchlibError):
    """The directory holds files, but not a searchlib index."""


class IndexVersionError(SearchlibError):
    """The index was written with another schema version: rebuild it."""


class IndexCorruptError(SearchlibError):
    """The index files cannot be read: rebuild the index."""


class IndexLockedError(SearchlibError):
    """Another writer holds the index: wait for it or retry with a longer wait."""


class QuerySyntaxError(SearchlibError):
    """The query string cannot be parsed."""


class UnknownLanguageError(SearchlibError):
    """A language code that searchlib does not support."""


class UnknownEntityTypeError(SearchlibError):
    """An entity type other than the ones the index stores."""


class InputError(SearchlibError):
    """A document source cannot be read: missing file, bad JSONL, bad encoding."""


class ModelNotInstalledError(SearchlibError):
    """The spaCy pipeline a language needs is not installed."""
