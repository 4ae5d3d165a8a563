"""``searchlib serve``: the search API over HTTP and JSON, and a search page.

The endpoints answer what the CLI's ``--format json`` prints, from one
:class:`~searchlib.index.Index` per server process, shared by the threads that
run the requests (the index lends each search a reader of its own: see
``Index._reading``). Several worker processes (``workers``) serve more
requests at once on more cores; writes in any of them, or in a ``searchlib
index`` run beside them, take turns through the index's write lock.

>>> app = create_app(index_path="index")                    # doctest: +SKIP
>>> serve(index_path="index", port=8000, workers=2)         # doctest: +SKIP

Starlette and uvicorn come with the ``serve`` extra: ``pip install 'searchlib[serve]'``.
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import ipaddress
import json
import logging
import logging.config
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

from .analysis import analyzer_for
from .errors import (
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    SearchlibError,
)
from .index import Index, open_index
from .languages import DEFAULT_LANGUAGE, get_language
from .nlp import lemma_tables
from .query import MAX_QUERY_CHARS
from .sources import Document
from .store import DEFAULT_WAIT, ENV_INDEX, default_index_path
from .text import clean_text

try:
    import anyio.to_thread
    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ModuleNotFoundError as exc:  # the serve extra is not installed
    raise SearchlibError(
        f"searchlib serve needs Starlette and uvicorn ({(exc.name or '?').partition('.')[0]} is missing); install them with: "
        "pip install 'searchlib[serve]'"
    ) from None

#: The environment variable that holds the write token (safer than the
#: command line, which other users of the machine can read).
ENV_WRITE_TOKEN = "SEARCHLIB_WRITE_TOKEN"
MIN_TOKEN_CHARS = 16
#: Bounds of the request parameters: a request beyond them is refused with a 400.
MAX_LIMIT = 100
MAX_OFFSET = 1000
MAX_LISTED = 1000
#: Largest body a POST /documents may send (a few minutes of analysis at most).
MAX_BODY_BYTES = 4 * 1024 * 1024
#: Threads per process that run requests. Searches hold the GIL, so more
#: threads add no speed, only readers held open (see store.MAX_IDLE_READERS).
REQUEST_THREADS = 8
#: Seconds a write waits for another writer (another process's ``searchlib index``) before a 503.
WRITE_WAIT = DEFAULT_WAIT

_log = logging.getLogger("searchlib.server")

_PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}
#: The page runs only its own script and style, and nothing from elsewhere.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class RequestError(Exception):
    """A request the server refuses: an HTTP status and one sentence for the client."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def create_app(*, index_path: str | os.PathLike | None = None, write_token: str | None = None) -> Starlette:
    """The Starlette application: the JSON API, and the search page at ``/``.

    The index is opened when the application starts (its lifespan) and closed
    when it stops. Writes are refused unless ``write_token`` is given; clients
    then send it as ``Authorization: Bearer TOKEN``.
    """
    path = Path(index_path) if index_path is not None else default_index_path()
    check_write_token(write_token)
    service = _Service(path, write_token)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        service.open()
        try:
            yield
        finally:
            service.close()

    routes = [
        Route("/search", service.search),
        Route("/entities", service.entities),
        Route("/info", service.info),
        Route("/documents", service.documents, methods=["GET"]),
        Route("/documents", service.add, methods=["POST"]),
        Route("/documents/{doc_id:path}", service.delete, methods=["DELETE"]),
        Route("/healthz", service.healthz),
        *(Route(url, service.page) for url in _PAGE_FILES),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
    )


def app_from_environment() -> Starlette:
    """The application of a worker process: its settings come from ``$SEARCHLIB_INDEX`` and ``$SEARCHLIB_WRITE_TOKEN``."""
    return create_app(index_path=os.environ.get(ENV_INDEX) or None, write_token=os.environ.get(ENV_WRITE_TOKEN) or None)


def check_write_token(token: str | None) -> None:
    """Refuse a write token too short to resist guessing."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise SearchlibError(
            f"the write token must be at least {MIN_TOKEN_CHARS} characters long; make one with: "
            "python -c \"import secrets; print(secrets.token_urlsafe())\""
        )


def serve(
    *,
    index_path: str | os.PathLike | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    write_token: str | None = None,
    access_log: bool = True,
) -> None:
    """Run the server until SIGINT or SIGTERM; requests in flight (writes included) finish first.

    With ``workers`` above 1, that many processes accept connections on the
    same socket, each with its own :class:`Index`.
    """
    if workers < 1:
        raise SearchlibError(f"workers must be at least 1, not {workers}")
    path = Path(index_path) if index_path is not None else default_index_path()
    check_write_token(write_token)
    # Fail here, with one clear line, rather than in every worker. A server
    # that can write may start from nothing; a read-only one needs an index.
    open_index(path, create=write_token is not None).close()
    logging.config.dictConfig(_log_config())
    if write_token is not None and not _is_loopback(host):
        _log.warning(
            "writes are on and %s is reachable from other machines: the token crosses the network in clear "
            "unless a TLS proxy stands in front", host,
        )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": _log_config(),
        "access_log": access_log,
        "timeout_graceful_shutdown": None,
        "server_header": False,
    }
    if workers == 1:
        uvicorn.run(create_app(index_path=path, write_token=write_token), **options)
        return
    # Worker processes are started afresh: they read their settings from the environment.
    os.environ[ENV_INDEX] = str(path.resolve())
    if write_token is not None:
        os.environ[ENV_WRITE_TOKEN] = write_token
    else:
        os.environ.pop(ENV_WRITE_TOKEN, None)
    uvicorn.run("searchlib.server:app_from_environment", factory=True, workers=workers, **options)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with searchlib's server log (errors and their tracebacks) on stderr beside it."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["searchlib"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


class _Service:
    """The endpoints, over one open index."""

    def __init__(self, path: Path, write_token: str | None) -> None:
        self._path = path
        self._token = write_token.encode("utf-8") if write_token is not None else None
        self._index: Index | None = None
        # Writers of this process queue here; the index's lock then orders
        # them with other processes.
        self._writing = threading.Lock()
        self._page: dict[str, bytes] = {}

    def open(self) -> None:
        folder = resources.files("searchlib") / "static"
        self._page = {url: (folder / name).read_bytes() for url, (name, _) in _PAGE_FILES.items()}
        index = open_index(self._path, create=self._token is not None)
        started = time.monotonic()
        codes = _prepare(index, writes=self._token is not None)
        self._index = index
        _log.info(
            "Serving the index at %s (process %d); writes are %s; analysis of %s ready in %.1fs",
            self._path.resolve(), os.getpid(), "on, with the write token" if self._token else "off",
            ", ".join(codes), time.monotonic() - started,
        )

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    @property
    def index(self) -> Index:
        if self._index is None:
            raise RequestError(503, "the server is starting or stopping; retry in a moment")
        return self._index

    # -- reading -------------------------------------------------------------

    def search(self, request: Request) -> Response:
        def run(params: _Params) -> dict[str, Any]:
            query = params.required("q")
            if not query.strip():
                raise RequestError(400, "the query is empty; pass the words to search for in q")
            if len(query) > MAX_QUERY_CHARS:
                raise RequestError(400, f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
            limit = params.integer("limit", default=10, low=1, high=MAX_LIMIT)
            offset = params.integer("offset", default=0, low=0, high=MAX_OFFSET)
            results = self.index.search(
                query,
                # The hits of a later page are the tail of a longer ranking.
                limit=limit + offset,
                entity=params.text("entity"),
                entity_type=params.text("type"),
                lang=params.text("lang"),
                per_doc=params.boolean("per_doc"),
                plain=params.boolean("plain"),
                highlight=params.boolean("highlight", default=True),
            )
            data = results.to_dict()
            data["hits"] = data["hits"][offset:]
            data["offset"] = offset
            return data

        return self._answer(request, run, allowed=("q", "limit", "offset", "entity", "type", "lang", "per_doc", "plain", "highlight"))

    def entities(self, request: Request) -> Response:
        def run(params: _Params) -> dict[str, Any]:
            facets = self.index.entities(
                label=params.text("type"), limit=params.integer("limit", default=100, low=1, high=MAX_LISTED)
            )
            return {"entities": [asdict(f) for f in facets]}

        return self._answer(request, run, allowed=("type", "limit"))

    def info(self, request: Request) -> Response:
        return self._answer(request, lambda params: asdict(self.index.info()), allowed=())

    def documents(self, request: Request) -> Response:
        def run(params: _Params) -> dict[str, Any]:
            limit = params.integer("limit", default=100, low=1, high=MAX_LISTED)
            offset = params.integer("offset", default=0, low=0, high=None)
            listed = self.index.documents()
            return {"total": len(listed), "offset": offset, "documents": [asdict(d) for d in listed[offset : offset + limit]]}

        return self._answer(request, run, allowed=("limit", "offset"))

    async def healthz(self, request: Request) -> Response:
        # Answered on the event loop, so it answers even when every request thread is busy.
        return JSONResponse({"status": "ok" if self._index is not None else "starting"})

    async def page(self, request: Request) -> Response:
        name, media_type = _PAGE_FILES[request.url.path]
        return Response(self._page[request.url.path], media_type=media_type, headers=_PAGE_HEADERS)

    # -- writing -------------------------------------------------------------

    async def add(self, request: Request) -> Response:
        try:
            self._authorize(request)
            _Params(request, allowed=())
            documents = _parse_documents(await _read_body(request))
            report = await run_in_threadpool(self._write, lambda index: index.add(documents, wait=WRITE_WAIT, jobs=1))
            return JSONResponse(asdict(report))
        except Exception as exc:
            return _failure(request, exc)

    async def delete(self, request: Request) -> Response:
        try:
            self._authorize(request)
            _Params(request, allowed=())
            doc_id = request.path_params["doc_id"]
            removed = await run_in_threadpool(self._write, lambda index: index.delete([doc_id], wait=WRITE_WAIT))
            if not removed:
                raise RequestError(404, f"no document {doc_id!r} in the index; GET /documents lists them")
            return JSONResponse({"deleted": doc_id})
        except Exception as exc:
            return _failure(request, exc)

    def _write(self, action: Callable[[Index], Any]) -> Any:
        if not self._writing.acquire(timeout=WRITE_WAIT):
            raise _busy()
        try:
            return action(self.index)
        finally:
            self._writing.release()

    def _authorize(self, request: Request) -> None:
        if self._token is None:
            raise RequestError(
                403, f"writes are off on this server; start it with --write-token or ${ENV_WRITE_TOKEN} to allow them"
            )
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8"), self._token):
            raise RequestError(
                401, "this request needs the server's write token, as the header Authorization: Bearer TOKEN",
                headers={"WWW-Authenticate": "Bearer"},
            )

    # -- answers -------------------------------------------------------------

    def _answer(self, request: Request, run: Callable[[_Params], dict[str, Any]], *, allowed: tuple[str, ...]) -> Response:
        try:
            return JSONResponse(run(_Params(request, allowed=allowed)))
        except Exception as exc:
            return _failure(request, exc)


def _prepare(index: Index, *, writes: bool) -> list[str]:
    """Load what requests will need for each language of the index, before the first one; returns their codes.

    A write analyzes its documents with the language's spaCy pipeline, which
    takes seconds to load; a search needs only the lemmatizer's tables, for
    the words the index has never seen. The server pays for them before it
    accepts connections rather than in the middle of someone's request.
    """
    codes = list(index.info().languages) or [DEFAULT_LANGUAGE.code]
    for code in codes:
        try:
            language = get_language(code)
            if writes:
                analyzer_for(language)
            elif (tables := lemma_tables(language)) is not None:
                tables.rules()
        except SearchlibError as exc:  # its requests will say so; the other languages are served
            _log.warning("the %s analysis cannot be loaded: %s", code, exc)
    return codes


class _Params:
    """The query string of a request, checked: no unknown names, no repeats, values in range."""

    def __init__(self, request: Request, *, allowed: tuple[str, ...]) -> None:
        self._params = request.query_params
        for name in self._params:
            if name not in allowed:
                takes = f"takes {', '.join(allowed)}" if allowed else "takes no parameters"
                raise RequestError(400, f"unknown parameter {name!r}; {request.url.path} {takes}")
            if len(self._params.getlist(name)) > 1:
                raise RequestError(400, f"the parameter {name!r} is given more than once; give it once")

    def text(self, name: str) -> str | None:
        value = self._params.get(name)
        return value if value else None

    def required(self, name: str) -> str:
        value = self._params.get(name)
        if not value:
            raise RequestError(400, f"the parameter {name!r} is missing")
        return value

    def integer(self, name: str, *, default: int, low: int, high: int | None) -> int:
        raw = self._params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise RequestError(400, f"{name} must be a whole number, not {raw[:40]!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise RequestError(400, f"{name} must be {bounds}, not {value}")
        return value

    def boolean(self, name: str, *, default: bool = False) -> bool:
        raw = self._params.get(name)
        if raw is None or raw == "":
            return default
        value = raw.lower()
        if value in ("true", "1", "yes", "on"):
            return True
        if value in ("false", "0", "no", "off"):
            return False
        raise RequestError(400, f"{name} must be true or false, not {raw[:40]!r}")


async def _read_body(request: Request) -> bytes:
    """The request body, refused once it passes :data:`MAX_BODY_BYTES`."""
    mib, rest = divmod(MAX_BODY_BYTES, 1024 * 1024)
    bound = f"{mib} MiB" if mib and not rest else f"{MAX_BODY_BYTES} bytes"
    too_large = RequestError(413, f"the body is larger than {bound}; send the documents in several requests")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_documents(body: bytes) -> list[Document]:
    """A JSON document, a JSON array of them, or JSONL (one a line): ``{"id", "text", "title", "lang"}``."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RequestError(400, "the body is not UTF-8 text; send JSON or JSONL documents in UTF-8") from None
    if not text.strip():
        raise RequestError(400, 'the body is empty; send a JSON document {"id": ..., "text": ...} or JSONL')
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((json.loads(line), f"line {number}"))
            except json.JSONDecodeError as exc:
                raise RequestError(
                    400, f"the body is neither JSON nor JSONL: line {number} is not JSON ({exc.msg} at column {exc.colno})"
                ) from None
    else:
        if isinstance(whole, list):
            records = [(record, f"item {number}") for number, record in enumerate(whole, start=1)]
        else:
            records = [(whole, "the document")]
    if not records:
        raise RequestError(400, "the body holds no document")
    documents = [_document(record, where) for record, where in records]
    seen: set[str] = set()
    for document in documents:
        if document.id in seen:
            raise RequestError(400, f"the document id {document.id!r} is given twice in the body")
        seen.add(document.id)
    return documents


def _document(record: Any, where: str) -> Document:
    if not isinstance(record, dict):
        raise RequestError(400, f'{where} is not a JSON object like {{"id": ..., "text": ...}}')
    unknown = sorted(set(record) - {"id", "text", "title", "lang"})
    if unknown:
        raise RequestError(400, f"{where} has an unknown field {unknown[0]!r}; the fields are id, text, title and lang")
    doc_id = record.get("id")
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise RequestError(400, f'{where} needs an "id": a non-empty string or an integer')
    for name in ("text", "title", "lang"):
        value = record.get(name)
        if (name == "text" and value is None) or (value is not None and not isinstance(value, str)):
            raise RequestError(400, f'{where} needs "{name}" as a string')
    return Document(
        id=clean_text(doc_id),
        text=clean_text(record["text"]),
        title=clean_text(record.get("title") or ""),
        lang=record.get("lang") or None,
    )


def _busy() -> RequestError:
    return RequestError(
        503, "the index is being written by another writer; retry in a few seconds", headers={"Retry-After": "5"}
    )


def _failure(request: Request, exc: Exception) -> Response:
    """The JSON error for an exception: one sentence, never a traceback (that goes to the log)."""
    if isinstance(exc, RequestError):
        return _error(exc.status, exc.message, exc.headers)
    if isinstance(exc, IndexLockedError):
        busy = _busy()
        return _error(busy.status, busy.message, busy.headers)
    if isinstance(exc, (IndexCorruptError, IndexNotFoundError)):
        _log.error("%s %s: %s", request.method, request.url.path, exc)
        return _error(500, str(exc))
    if isinstance(exc, SearchlibError):
        return _error(400, str(exc))
    return _unexpected(request, exc)


def _unexpected(request: Request, exc: Exception) -> Response:
    _log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _error(500, "the server failed to answer this request; its log says why")


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no such endpoint: {request.url.path}; see the README, section Serving over HTTP"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return _error(exc.status_code, message, exc.headers)


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))
