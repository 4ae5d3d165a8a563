"""The ``searchlib`` command: a thin layer over :mod:`searchlib.index`.

Each command opens the index, calls one library method, and prints the
result. Library errors become ``Error: ...`` lines with exit code 1.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .errors import IndexNotFoundError, SearchlibError
from .evaluate import EvalProgress, evaluate, write_trec_run
from .highlight import mark
from .index import Index, open_index
from .results import AddReport, Hit, Progress, SearchResults
from .sources import MAX_DOCUMENT_CHARS
from .store import DEFAULT_WAIT, ENV_INDEX, bundled_corpus, default_index_path
from .writer import BATCH_CHARS, BATCH_DOCUMENTS

F = TypeVar("F", bound=Callable[..., Any])

PLAIN_BEFORE, PLAIN_AFTER = "**", "**"


def _library_errors(func: F) -> F:
    """Turn library errors into one ``Error:`` line and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SearchlibError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from None

    return wrapper  # type: ignore[return-value]


index_option = click.option(
    "--index",
    "index_path",
    type=click.Path(path_type=Path, file_okay=False),
    envvar=ENV_INDEX,
    default=None,
    help=f"Index folder. Default: ${ENV_INDEX}, else ./index.",
)
wait_option = click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=DEFAULT_WAIT,
    show_default=True,
    help="Seconds to wait for another writer to finish.",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="searchlib")
def main() -> None:
    """French-first full-text search: lemmas, entities, passages, exact highlights.

    \b
    First search (builds ./index from the bundled article if needed):
        searchlib search "victimes de la traite"
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, allow_dash=True))
@index_option
@click.option("--lang", help="Language of every document (overrides JSONL \"lang\"). Default: detected.")
@wait_option
@click.option("--skip-errors", is_flag=True, help="Skip malformed JSONL lines instead of stopping.")
@click.option("--prune", is_flag=True, help="Remove the documents whose file is gone from the folders and files given.")
@click.option("--batch-size", type=click.IntRange(min=1), default=BATCH_DOCUMENTS, show_default=True,
              help=f"Documents per commit (a batch also ends at {BATCH_CHARS:,} characters): "
                   "a crash loses at most one batch.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Processes that analyze the text. Default: one per core.")
@click.option("--cluster", metavar="ADDRESS",
              help="Analyze and write on a Dask cluster: a scheduler's address (tcp://host:8786), or local[:N] "
                   "for N worker processes here. Needs searchlib[cluster].")
@click.option("--max-chars", type=click.IntRange(min=1), default=MAX_DOCUMENT_CHARS, show_default=True,
              help="Skip, with a warning, a document longer than this many characters.")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary line.")
@_library_errors
def index(paths: tuple[Path, ...], index_path: Path | None, lang: str | None, wait: float,
          skip_errors: bool, prune: bool, batch_size: int, jobs: int | None, cluster: str | None, max_chars: int,
          quiet: bool) -> None:
    """Index files, folders (recursively), JSONL files, or - for standard input.

    With no PATH, indexes the bundled article. Re-indexing a document replaces it;
    an unchanged one is skipped. On a terminal, a progress line shows documents,
    passages, words/s and the time left.
    """
    sources: list[str | Path] = [str(p) if str(p) == "-" else p for p in paths] or [bundled_corpus()]
    progress = None if quiet or not _is_terminal(sys.stderr) else ProgressLine(sys.stderr)
    with open_index(index_path or default_index_path(), create=True) as idx:
        try:
            report = idx.add(sources, lang=lang, wait=wait, skip_errors=skip_errors, prune=prune,
                             batch_size=batch_size, jobs=jobs, cluster=cluster, max_chars=max_chars,
                             on_warning=progress.warning if progress else _warning,
                             on_progress=progress.update if progress else None)
        finally:
            if progress:
                progress.clear()
    if not quiet:
        click.echo(_summary(report, idx))


@main.command()
@click.argument("query")
@index_option
@click.option("-n", "--limit", type=click.IntRange(min=1), default=10, show_default=True, help="Hits to show.")
@click.option("--per-doc", is_flag=True, help="Only the best passage of each document.")
@click.option("--entity", help="Only passages that mention this entity, e.g. OSCE.")
@click.option("--entity-type", help="Only passages with an entity of this type: PER, ORG, LOC, MISC.")
@click.option("--lang", help="Analyze the query in this language only, and keep its passages.")
@click.option("--plain", is_flag=True, help="Read QUERY as plain words: no operators, quotes or fields.")
@format_option
@_library_errors
def search(query: str, index_path: Path | None, limit: int, per_doc: bool, entity: str | None,
           entity_type: str | None, lang: str | None, plain: bool, fmt: str) -> None:
    """Search the index. QUERY uses AND, OR, NOT, "phrases", field:word, prefix* and fuzzy~."""
    with _open_for_reading(index_path) as idx:
        results = idx.search(query, limit=limit, entity=entity, entity_type=entity_type, per_doc=per_doc, lang=lang,
                             plain=plain)
    if fmt == "json":
        click.echo(json.dumps(results.to_dict(), ensure_ascii=False))
    else:
        _print_results(results)


@main.command()
@index_option
@click.option("--type", "label", help="Only entities of this type: PER, ORG, LOC, MISC.")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=None, help="Show at most this many.")
@format_option
@_library_errors
def entities(index_path: Path | None, label: str | None, limit: int | None, fmt: str) -> None:
    """Named entities of the index, with the number of passages that mention each."""
    with _open_for_reading(index_path) as idx:
        facets = idx.entities(label=label, limit=limit)
    if fmt == "json":
        click.echo(json.dumps({"entities": [vars(f) for f in facets]}, ensure_ascii=False))
        return
    for facet in facets:
        click.echo(f"{facet.passages:6d}  {facet.label:<4}  {facet.text}")


@main.command()
@index_option
@format_option
@_library_errors
def info(index_path: Path | None, fmt: str) -> None:
    """Documents, passages, languages, size and schema version of the index."""
    with open_index(index_path or default_index_path()) as idx:
        data = idx.info()
    if fmt == "json":
        click.echo(json.dumps(vars(data), ensure_ascii=False))
        return
    languages = ", ".join(f"{code} ({_count(n, 'passage')})" for code, n in data.languages.items()) or "none"
    click.echo(f"index:          {data.path}")
    click.echo(f"documents:      {data.documents}")
    click.echo(f"passages:       {data.passages}")
    click.echo(f"languages:      {languages}")
    click.echo(f"size:           {data.size_bytes / 1024:.1f} KiB")
    click.echo(f"schema version: {data.schema_version}")


@main.command()
@click.argument("doc_ids", nargs=-1, required=True)
@index_option
@wait_option
@_library_errors
def delete(doc_ids: tuple[str, ...], index_path: Path | None, wait: float) -> None:
    """Remove documents, by id, with their passages."""
    with open_index(index_path or default_index_path()) as idx:
        removed = idx.delete(doc_ids, wait=wait)
    asked = len(set(doc_ids))
    missing = f" ({asked - removed} not in the index)" if removed < asked else ""
    click.echo(f"Deleted {_count(removed, 'document')}{missing} from {idx.path}")


@main.command()
@index_option
@wait_option
@_library_errors
def optimize(index_path: Path | None, wait: float) -> None:
    """Merge the index's segments into one: the fastest searches and the smallest index."""
    with open_index(index_path or default_index_path()) as idx:
        before = idx.info().size_bytes
        merged = idx.optimize(wait=wait)
        after = idx.info().size_bytes
    if merged <= 1:
        click.echo(f"{idx.path} is one segment already ({after / 1024:,.0f} KiB)")
    else:
        click.echo(f"Merged {merged} segments into one: {before / 1024:,.0f} KiB → {after / 1024:,.0f} KiB at {idx.path}")


@main.command()
@index_option
@_library_errors
def check(index_path: Path | None) -> None:
    """Read the whole index and verify it: records readable, postings readable, counts agreeing."""
    with open_index(index_path or default_index_path()) as idx:
        report = idx.check()
    click.echo(
        f"OK: {_count(report.documents, 'document')}, {_count(report.passages, 'passage')}, "
        f"{_count(report.terms, 'term')} in {_count(report.segments, 'segment')} (commit {report.generation}) "
        f"at {idx.path}"
    )


@main.command()
@index_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Server processes: more serve more requests at once, on more cores.")
@click.option("--write-token", envvar="SEARCHLIB_WRITE_TOKEN", default=None,
              help="Allow POST and DELETE /documents to clients that send this token "
                   "(Authorization: Bearer TOKEN). Default: $SEARCHLIB_WRITE_TOKEN, else writes are off.")
@click.option("-q", "--quiet", is_flag=True, help="No access log (one line per request).")
@_library_errors
def serve(index_path: Path | None, host: str, port: int, workers: int, write_token: str | None, quiet: bool) -> None:
    """Serve the index over HTTP: a JSON API (/search, /entities, /info, /documents) and a search page at /.

    Stop it with Ctrl-C or SIGTERM: requests in flight, writes included, finish first.
    """
    from .server import serve as run_server

    run_server(index_path=index_path, host=host, port=port, workers=workers, write_token=write_token,
               access_log=not quiet)


@main.command(name="eval")
@click.argument("dataset", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--index", "index_path", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Index the corpus here, or reuse it if already built. Default: a temporary index.")
@click.option("--sample", type=click.IntRange(min=1), default=None, help="Evaluate this many queries, drawn at random.")
@click.option("--lang", help="Only queries and documents of this language (a monolingual run).")
@click.option("--detect", is_flag=True, help="Ignore the corpus \"lang\" field: detect each document's language.")
@click.option("--run", "run_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the ranking as a TREC run file.")
@format_option
@_library_errors
def evaluate_command(dataset: Path, index_path: Path | None, sample: int | None, lang: str | None, detect: bool,
                     run_file: Path | None, fmt: str) -> None:
    """Measure retrieval quality on a judged folder: corpus.jsonl, queries.jsonl, qrels.tsv.

    Documents are ranked by their best passage; reports nDCG@10, MRR@10 and
    Recall@100, overall and per language.
    """
    with _progress() as on_progress:
        report = evaluate(dataset, index_path=index_path, sample=sample, lang=lang, detect=detect,
                          on_progress=on_progress)
    if run_file is not None:
        write_trec_run(report.run, run_file)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    click.echo(f"dataset:   {report.dataset}")
    click.echo(f"index:     {report.index} ({_count(report.documents, 'document')})")
    click.echo(f"queries:   {report.queries}")
    columns = {"all": report.metrics, **report.per_language}
    click.echo(f"{'':12}" + "".join(f"{name:>8}" for name in columns))
    for metric in report.metrics:
        click.echo(f"{metric:12}" + "".join(f"{values[metric]:8.4f}" for values in columns.values()))
    click.echo(f"time:      {report.seconds_indexing:.1f}s indexing, {report.seconds_querying:.1f}s querying")


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[EvalProgress], None] | None]:
    """A progress bar on stderr for each phase, when stderr is a terminal."""
    if not _is_terminal(sys.stderr):
        yield None
        return
    bars: dict[str, Any] = {}

    def update(p: EvalProgress) -> None:
        bar = bars.get(p.phase)
        if bar is None:
            for other in bars.values():
                other.render_finish()
            bar = bars[p.phase] = click.progressbar(length=p.total or None, label=p.phase, file=sys.stderr)
        bar.update(p.done - bar.pos)

    try:
        yield update
    finally:
        for bar in bars.values():
            bar.render_finish()


def _open_for_reading(index_path: Path | None) -> Index:
    """Open the named index; with none named, build the default one on first use."""
    if index_path is not None:
        return open_index(index_path)
    path = default_index_path()
    try:
        return open_index(path)
    except IndexNotFoundError:
        pass
    corpus = bundled_corpus()
    shown = path if path.is_absolute() or str(path).startswith(".") else f"./{path}"
    click.echo(f"No index at {shown}: building it from the bundled corpus ({corpus})…", err=True)
    idx = open_index(path, create=True)
    report = idx.add([corpus], on_warning=_warning)
    click.echo(_summary(report, idx), err=True)
    return idx


def _warning(message: str) -> None:
    # One warning, one line, whatever a JSONL id holds.
    click.echo("Warning: " + re.sub(r"[\r\n]", lambda m: f"\\x{ord(m.group()):02x}", message), err=True)


def _summary(report: AddReport, idx: Index) -> str:
    # The rate leaves out the seconds spent loading the language model: they
    # do not grow with the corpus, and would make a small run look slow.
    working = report.seconds - report.model_seconds
    rate = report.words / working if working > 0 else 0.0
    parts = [f"Indexed {_count(report.documents, 'document')} ({_count(report.passages, 'passage')})"]
    if report.unchanged:
        parts.append(f"{report.unchanged} unchanged")
    if report.empty:
        parts.append(f"{report.empty} empty")
    if report.pruned:
        parts.append(f"{report.pruned} pruned")
    speed = f"{_count(round(rate), 'word', grouped=True)}/s"
    if report.model_seconds >= 0.05:
        speed += f", after {report.model_seconds:.1f}s loading the language model"
    return f"{', '.join(parts)} in {_duration(report.seconds)} ({speed}) into {idx.path}"


def _count(n: int, noun: str, *, grouped: bool = False) -> str:
    """``1 document``, ``2 documents``: the noun agrees with the number."""
    number = f"{n:,}" if grouped else str(n)
    return f"{number} {noun}" if n == 1 else f"{number} {noun}s"


def _duration(seconds: float) -> str:
    """``4.2s``, ``3m07s``, ``1h02m``: short, and exact enough for a person."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class ProgressLine:
    """One line on stderr, redrawn in place: documents, passages, words/s and the time left.

    The time left goes by characters: those left to analyze, at the speed
    measured over the last :attr:`LEFT_WINDOW` seconds, from the first text
    analyzed on (not while the language model loads), so that one long
    document shows it too. Results come a chunk at a time, every few seconds
    from each worker, so a span of a few results jumps around
    (``bench/long_document.py`` replays a run with each span). Without a
    character count, it goes by documents. While a batch is committed, which
    the speed of analysis does not foresee, the line says so instead.
    """

    #: Seconds over which words/s is shown.
    WINDOW = 20.0
    #: Seconds over which the speed that gives the time left is measured.
    LEFT_WINDOW = 60.0
    MIN_SPAN = 3.0
    #: Redraws per second at most: drawing costs time too.
    REDRAW = 0.2

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        # (seconds, words, documents done, characters analyzed)
        self._samples: deque[tuple[float, int, int, int]] = deque()
        self._drawn = -1.0
        self._width = 0
        self._draw("indexing…")

    def update(self, progress: Progress) -> None:
        done = progress.documents + progress.skipped
        self._samples.append((progress.seconds, progress.words, done, progress.chars))
        while len(self._samples) > 2 and progress.seconds - self._samples[0][0] > self.LEFT_WINDOW:
            self._samples.popleft()
        if progress.seconds - self._drawn < self.REDRAW and not progress.writing:
            return
        self._drawn = progress.seconds
        self._draw(self._line(progress, done))

    def _rate(self, field: int, window: float, *, analyzed: bool = False) -> float:
        """The growth per second of a sample's ``field`` over the last ``window`` seconds; 0 if too soon to say."""
        last = self._samples[-1]
        span = [s for s in self._samples if last[0] - s[0] <= window and (s[3] > 0 or not analyzed)]
        elapsed = last[0] - span[0][0] if span else 0.0
        # Results come in bursts, one task at a time: a rate over less than a
        # few seconds would jump around.
        if elapsed < self.MIN_SPAN or elapsed <= 0:
            return 0.0
        return (last[field] - span[0][field]) / elapsed

    def _line(self, progress: Progress, done: int) -> str:
        words_rate = self._rate(1, self.WINDOW)
        total = progress.total
        count = f"{done:,}/{total:,}" if total else f"{done:,}"
        noun = "document" if (total or done) == 1 else "documents"
        parts = [f"{count} {noun}", _count(progress.passages, "passage", grouped=True)]
        if words_rate:
            parts.append(f"{_count(round(words_rate), 'word', grouped=True)}/s")
        share = None
        if progress.writing:
            parts.append("writing the index…")
        if progress.total_chars:
            left_chars = max(progress.total_chars - progress.chars - progress.skipped_chars, 0)
            share = 1.0 - left_chars / progress.total_chars
            chars_rate = self._rate(3, self.LEFT_WINDOW, analyzed=True)
            if chars_rate and left_chars and not progress.writing:
                parts.append(f"{_duration(left_chars / chars_rate)} left")
        elif total:
            share = done / total
            docs_rate = self._rate(2, self.WINDOW)
            if docs_rate and total > done and not progress.writing:
                parts.append(f"{_duration((total - done) / docs_rate)} left")
        bar = ""
        if share is not None:
            filled = round(20 * min(share, 1.0))
            bar = "[" + "#" * filled + "." * (20 - filled) + "] "
        return bar + " · ".join(parts)

    def _draw(self, line: str) -> None:
        pad = max(self._width - len(line), 0)
        self._stream.write("\r" + line + " " * pad)
        self._stream.flush()
        self._width = len(line)

    def warning(self, message: str) -> None:
        self.clear()
        _warning(message)

    def clear(self) -> None:
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0
            self._drawn = -1.0


def _use_color() -> bool:
    # The NO_COLOR convention (no-color.org): set and not empty.
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _print_results(results: SearchResults) -> None:
    color = _use_color()
    if color:
        before, after = "\x1b[1;33m", "\x1b[0m"
    else:
        before, after = PLAIN_BEFORE, PLAIN_AFTER
    for hit in results.hits:
        _print_hit(hit, before, after, color)
    if not results.hits:
        click.echo(f"No results for {results.query!r}.")
    else:
        shown = len(results.hits)
        click.echo(f"{shown} of {_count(results.total, 'matching passage')} shown.")
    if results.suggestion:
        click.echo(f"Did you mean: {results.suggestion}")


def _print_hit(hit: Hit, before: str, after: str, color: bool) -> None:
    heading = f"{hit.rank}. {hit.doc_id} · passage {hit.passage} · score {hit.score:.2f}"
    click.echo(click.style(heading, bold=True) if color else heading)
    if hit.title:
        click.echo(f"   {click.style(hit.title, dim=True) if color else hit.title}")
    body = mark(hit.text, hit.matches, before=before, after=after)
    click.echo("   " + re.sub(r"\s+", " ", body))
    if hit.entities:
        click.echo("   entities: " + ", ".join(f"{e.text} ({e.label})" for e in hit.entities))
    click.echo()
