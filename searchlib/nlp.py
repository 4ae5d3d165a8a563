"""Stage 2: the spaCy pipeline of each language, loaded once and only when needed.

Loading the French pipeline takes several seconds, so nothing on the query path
imports spaCy unless a query word is new to the index.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModelNotInstalledError, SearchlibError, UnknownLanguageError
from .languages import LOOKUP, TRAINED, Language

if TYPE_CHECKING:
    import spacy


#: Threads that need a pipeline at once (writes from several threads) wait
#: for one load: each would otherwise load its own copy, for seconds and
#: hundreds of megabytes.
_loading = threading.Lock()


def load_pipeline(language: Language) -> spacy.language.Language:
    """The spaCy pipeline for ``language``, loaded once per process even when threads ask at once."""
    with _loading:
        return _load_pipeline(language)


@functools.cache
def _load_pipeline(language: Language) -> spacy.language.Language:
    """The spaCy pipeline for ``language``, with the components searchlib uses.

    For a trained pipeline the dependency parser is left out: the statistical
    sentence splitter (``senter``) gives the sentences passages need at a
    fraction of the cost, and nothing else here uses syntax. Other languages
    get a blank pipeline (tokenizer) with a rule-based sentencizer.
    """
    import spacy

    if language.lemmatizer == TRAINED:
        assert language.pipeline is not None
        try:
            nlp = spacy.load(language.pipeline, exclude=["parser"])
        except OSError:
            package = language.pipeline.replace("_", "-")
            raise ModelNotInstalledError(
                f"the {language.name} pipeline {language.pipeline!r} is not installed; "
                f"install it with: pip install {package}"
            ) from None
        if "senter" in nlp.disabled:
            nlp.enable_pipe("senter")
        _split_inner_brackets(nlp)
        # Indexing copies the lemmatizer's tables into the cache now, so that
        # the first search with a word no document holds need not.
        with contextlib.suppress(SearchlibError):
            lemma_tables(language).rules()  # type: ignore[union-attr]
        return nlp
    try:
        nlp = spacy.blank(language.code)
    except (ImportError, KeyError) as exc:
        raise UnknownLanguageError(f"spaCy cannot tokenize language {language.code!r}: {exc}") from None
    _split_inner_hyphens(nlp)
    _split_inner_brackets(nlp)
    nlp.add_pipe("sentencizer")
    return nlp


def _split_inner_hyphens(nlp: spacy.language.Language) -> None:
    """Split words at a hyphen between letters or digits: "EU-Kommission" → "EU", "-", "Kommission".

    spaCy's English and French tokenizers do so already; its German, Spanish,
    Italian, Portuguese and Dutch ones keep "EU-Kommission", "US-China" or
    "1-0" whole, and then "Kommission" or "China" would not find them. Lucene's
    tokenizer splits them in every language, and so does searchlib. (The
    trained French pipeline keeps its own tokenizer, which its tagger was
    trained on.)
    """
    import re

    from spacy.util import compile_infix_regex

    # Portuguese has an "infix" that matches a whole hyphenated word, to keep it.
    kept = [p for p in nlp.Defaults.infixes or () if not re.fullmatch(p, "ab-cd")]
    infixes = [*kept, r"(?<=[^\W_])-(?=[^\W_])"]
    tokenizer: Any = nlp.tokenizer  # a compiled spacy.tokenizer.Tokenizer, without type stubs
    tokenizer.infix_finditer = compile_infix_regex(infixes).finditer


def _split_inner_brackets(nlp: spacy.language.Language) -> None:
    """Split words at a bracket between letters or digits: "technique[non" → "technique", "[", "non".

    Wikipedia's "[réf. nécessaire]" glued to a word, or "fonction(s)", made one
    token that the word alone never found; no tokenizer of spaCy's splits there.
    """
    from spacy.util import compile_infix_regex

    tokenizer: Any = nlp.tokenizer
    # Added to the tokenizer's own infixes: a trained pipeline's may differ from its language's defaults.
    current = tokenizer.infix_finditer
    infixes = [current.__self__.pattern] if current is not None else []
    tokenizer.infix_finditer = compile_infix_regex([*infixes, r"(?<=[^\W_])[\[\](){}](?=[^\W_])"]).finditer


@functools.cache
def lookup_lemmatizer(language: Language) -> Callable[[str], str]:
    """``word → index term``: spaCy's lookup lemma, then the Snowball stem of that lemma.

    The tables are case-sensitive (German nouns are capitalized), so a word at
    the start of a sentence or typed in lowercase needs a second, lowercase
    try. The tables map inflections only, and miss many (Dutch plurals), so the
    lemma is then stemmed: on NTREX-128 headlines, stemming the lemma ranked
    better than the lemma alone in German, Spanish and Italian (nDCG@10
    +0.014, +0.002, +0.002) and was level in English.
    """
    assert language.lemmatizer == LOOKUP
    from spacy.lookups import load_lookups

    table = load_lookups(language.code, ["lemma_lookup"]).get_table("lemma_lookup")
    stem = _stemmer(language.stemmer) if language.stemmer else str

    @functools.lru_cache(maxsize=200_000)
    def term(word: str) -> str:
        lemma = table.get(word) or table.get(word.lower()) or word
        return stem(lemma.lower())

    return term


def _stemmer(algorithm: str) -> Callable[[str], str]:
    import Stemmer

    return Stemmer.Stemmer(algorithm).stemWord


@functools.cache
def stem_term(language: Language) -> Callable[[str], str] | None:
    """``folded word → stem term`` (``"~"`` + its Snowball stem), or None for a language without a stemmer.

    The ``~`` keeps stems apart from lemmas in the fields they share. A stem
    depends on the word alone, not on its context, so a query word reaches
    the same stem as the document word with no lexicon.
    """
    if not language.stemmer:
        return None
    stem = _stemmer(language.stemmer)

    @functools.lru_cache(maxsize=200_000)
    def term(folded: str) -> str:
        return "~" + stem(folded)

    return term


#: Where derived lemma tables are kept between processes (default: the user's cache folder).
ENV_CACHE = "SEARCHLIB_CACHE"


def cache_folder() -> Path:
    """``$SEARCHLIB_CACHE``, else ``$XDG_CACHE_HOME/searchlib``, else ``~/.cache/searchlib``."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "searchlib"


class LemmaTables:
    """A trained pipeline's lemmatizer tables (suffix rules, irregular forms), without the pipeline.

    The tables sit in the installed model package, in one 10 MB file whose
    reading costs a second; they are copied once into an SQLite file in
    :func:`cache_folder`, where a lookup costs microseconds and a search
    never waits for them again. Where the cache cannot be written, the tables
    are read from the package in each process.
    """

    def __init__(self, pipeline: str) -> None:
        self._pipeline = pipeline
        self._db: Any = None
        self._rules: dict[str, list[tuple[str, str]]] | None = None

    def rules(self) -> dict[str, list[tuple[str, str]]]:
        """Part of speech (nouns, adjectives, verbs) → its suffix rules, ``(old ending, new ending)``."""
        if self._rules is None:
            rows = self._connect().execute("SELECT pos, old, new FROM rules ORDER BY rowid").fetchall()
            rules: dict[str, list[tuple[str, str]]] = {}
            for pos, old, new in rows:
                rules.setdefault(pos, []).append((old, new))
            self._rules = rules
        return self._rules

    def exceptions(self, form: str) -> list[str]:
        """The lemmas the tables give an irregular ``form`` ("disent" → "dire"), if any."""
        rows = self._connect().execute("SELECT lemma FROM exceptions WHERE form = ?", (form,)).fetchall()
        return [lemma for (lemma,) in rows]

    def _connect(self) -> Any:
        import sqlite3

        if self._db is None:
            version = _package_version(self._pipeline)
            path = cache_folder() / f"lemmas-{self._pipeline}-{version}.sqlite"
            try:
                if not path.is_file():
                    self._write(path)
                self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            except (OSError, sqlite3.Error):
                self._db = sqlite3.connect(":memory:", check_same_thread=False)
                self._fill(self._db)
        return self._db

    def _write(self, path: Path) -> None:
        import sqlite3
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=".lemmas-", suffix=".tmp")
        os.close(fd)
        try:
            db = sqlite3.connect(name)
            self._fill(db)
            db.close()
            os.replace(name, path)  # whole or not at all, whoever writes it at the same time
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(name)

    def _fill(self, db: Any) -> None:
        import srsly

        spec = importlib.util.find_spec(self._pipeline)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotInstalledError(f"the pipeline {self._pipeline!r} is not installed; install it with: pip install {self._pipeline.replace('_', '-')}")
        [lookups] = Path(next(iter(spec.submodule_search_locations))).glob("*/lemmatizer/lookups/lookups.bin")
        tables = srsly.read_msgpack(lookups)
        # The tables are keyed by part of speech (spaCy's hash of its name):
        # the rules table holds exactly nouns, adjectives and verbs, and their
        # irregular forms are the exceptions wanted.
        rules = tables["lemma_rules"]
        exceptions = tables["lemma_exc"]
        db.execute("CREATE TABLE rules (pos TEXT, old TEXT, new TEXT)")
        db.execute("CREATE TABLE exceptions (form TEXT, lemma TEXT, PRIMARY KEY (form, lemma)) WITHOUT ROWID")
        for key, pos_rules in rules.items():
            db.executemany("INSERT INTO rules VALUES (?, ?, ?)", ((str(key), old, new) for old, new in pos_rules))
            db.executemany(
                "INSERT OR IGNORE INTO exceptions VALUES (?, ?)",
                ((form, lemma) for form, lemmas in exceptions.get(key, {}).items() for lemma in lemmas),
            )
        db.commit()


def _package_version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package.replace("_", "-"))
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def lemma_tables(language: Language) -> LemmaTables | None:
    """The lemmatizer tables of ``language``'s trained pipeline; None for other languages."""
    return LemmaTables(language.pipeline) if language.lemmatizer == TRAINED and language.pipeline else None


def unseen_word_terms(language: Language, word: str) -> tuple[str, ...]:
    """Candidate index terms for a query word that no document holds, without loading spaCy.

    Loading a pipeline takes seconds, and a query word has no context to tag
    it by anyway. So a word of a TRAINED language gets the lemmas its
    lemmatizer's tables give it: as an irregular form ("disent" → "dire",
    "vieille" → "vieux"), and by the suffix rules of nouns, adjectives and
    verbs ("exploitées" → "exploiter"), beside itself; a LOOKUP language's
    word its stem, as its lemma would be stemmed. The caller keeps the
    candidates the index holds: the index's own lemmas serve as the
    lemmatizer's word list.
    """
    word = word.lower()
    if language.lemmatizer == LOOKUP and language.stemmer:
        return (_stemmer(language.stemmer)(word),)
    tables = lemma_tables(language)
    if tables is None:
        return (word,)
    forms = [word, *tables.exceptions(word)]
    for rules in tables.rules().values():
        for old, new in rules:
            if word.endswith(old) and len(word) > len(old):
                forms.append(word[: len(word) - len(old)] + new)
    return tuple(dict.fromkeys(forms))
