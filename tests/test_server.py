"""``searchlib serve``: the JSON API through a real uvicorn server on loopback, with a real HTTP client."""

import json
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from conftest import CORPUS, ROOT, SEED_ID, free_port, write_notes

from searchlib import Document, create_index, open_index
from searchlib import server as server_module
from searchlib.query import MAX_QUERY_CHARS

TOKEN = "t0ken-for-the-tests-only"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def api(http_server, seed_index):
    """A client of a read-only server over the bundled article."""
    with httpx.Client(base_url=http_server(seed_index.path), timeout=60) as client:
        yield client


@pytest.fixture()
def writable(http_server, seed_copy):
    """A client of a server that accepts writes with :data:`TOKEN`, over a private copy of the article."""
    with httpx.Client(base_url=http_server(seed_copy.path, write_token=TOKEN), timeout=120) as client:
        yield client, seed_copy


def error_of(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    return body["error"]


# -- reading ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "kwargs"),
    [
        ({"q": "exploiter"}, {}),
        ({"q": "victimes", "per_doc": "true", "limit": "3"}, {"per_doc": True, "limit": 3}),
        ({"q": "lutte", "type": "ORG"}, {"entity_type": "ORG"}),
        ({"q": "victimes", "entity": "OSCE"}, {"entity": "OSCE"}),
        ({"q": "traite des êtres humains", "plain": "1", "lang": "fr"}, {"plain": True, "lang": "fr"}),
        ({"q": "victimmes"}, {}),
    ],
)
def test_server_search_answers_what_the_library_and_cli_json_give(api, seed_index, params, kwargs):
    response = api.get("/search", params=params)
    assert response.status_code == 200
    assert response.json() == {**seed_index.search(params["q"], **kwargs).to_dict(), "offset": 0}


def test_server_search_json_is_the_cli_json(api, seed_index, run):
    cli = run("search", "prostitusion", "--format", "json", "--index", seed_index.path)
    assert api.get("/search", params={"q": "prostitusion"}).json() == {**json.loads(cli.stdout), "offset": 0}


def test_server_readme_curl_example_is_real_output(api):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command, output = re.search(r"```console\n\$ (curl [^\n]+)\n(.+?)\n```", readme, re.DOTALL).groups()
    args = shlex.split(command)
    url = next(a for a in args if a.startswith("http"))
    params = [tuple(args[i + 1].split("=", 1)) for i, a in enumerate(args) if a in ("--data-urlencode", "-d")]
    response = api.get(urlsplit(url).path, params=params)
    assert response.text == output


def test_server_search_offset_pages_through_one_ranking(api, seed_index):
    ranking = seed_index.search("victimes", limit=6).to_dict()
    pages = [api.get("/search", params={"q": "victimes", "limit": 2, "offset": offset}).json() for offset in (0, 2, 4)]
    assert [hit for page in pages for hit in page["hits"]] == ranking["hits"]
    assert [page["offset"] for page in pages] == [0, 2, 4]
    assert [hit["rank"] for hit in pages[1]["hits"]] == [3, 4]
    assert {page["total"] for page in pages} == {ranking["total"]}


def test_server_search_without_highlights_has_no_matches(api):
    hits = api.get("/search", params={"q": "exploiter", "highlight": "false"}).json()["hits"]
    assert hits and all(hit["matches"] == [] for hit in hits)


def test_server_search_past_the_last_hit_is_an_empty_page(api):
    page = api.get("/search", params={"q": "exploiter", "offset": 50}).json()
    assert (page["hits"], page["total"], page["offset"]) == ([], 3, 50)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "the parameter 'q' is missing"),
        ({"q": ""}, "the parameter 'q' is missing"),
        ({"q": "   "}, "the query is empty; pass the words to search for in q"),
        ({"q": '"Convention de'}, 'unbalanced quote: a phrase opened with " is never closed; add the closing "'),
        ({"q": "traite AND"}, "AND needs a term after it; search for the word in lowercase, e.g. and"),
        ({"q": "couleur:rouge"}, None),
        ({"q": "x" * (MAX_QUERY_CHARS + 1)}, f"the query is {MAX_QUERY_CHARS + 1} characters long; the limit is {MAX_QUERY_CHARS}"),
        ({"q": "traite", "limit": "0"}, "limit must be between 1 and 100, not 0"),
        ({"q": "traite", "limit": "101"}, "limit must be between 1 and 100, not 101"),
        ({"q": "traite", "limit": "ten"}, "limit must be a whole number, not 'ten'"),
        ({"q": "traite", "offset": "-1"}, "offset must be between 0 and 1000, not -1"),
        ({"q": "traite", "offset": "1001"}, "offset must be between 0 and 1000, not 1001"),
        ({"q": "traite", "per_doc": "maybe"}, "per_doc must be true or false, not 'maybe'"),
        ({"q": "traite", "type": "PLACE"}, "unknown entity type 'PLACE'; use one of: PER, ORG, LOC, MISC"),
        ({"q": "traite", "lang": "zz"}, None),
        ({"q": "traite", "sort": "date"}, None),
        ([("q", "traite"), ("q", "victimes")], "the parameter 'q' is given more than once; give it once"),
    ],
)
def test_server_a_bad_search_is_a_400_with_one_sentence(api, params, message):
    error = error_of(api.get("/search", params=params), 400)
    if message is not None:
        assert error == message
    assert "\n" not in error and "Traceback" not in error


SEARCH_PARAMETERS = ["limit", "offset", "entity", "type", "lang", "per_doc", "plain", "highlight"]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=TEXT, extra=st.dictionaries(st.sampled_from(SEARCH_PARAMETERS), TEXT, max_size=3))
def test_server_any_search_is_answered_in_json_never_a_500(api, q, extra):
    response = api.get("/search", params={"q": q, **extra})
    assert response.status_code in (200, 400), response.text
    body = response.json()
    if response.status_code == 200:
        assert set(body) == {"query", "total", "suggestion", "hits", "offset"}
    else:
        assert list(body) == ["error"] and body["error"] and "\n" not in body["error"]


def test_server_unknown_parameter_and_language_errors_say_what_is_accepted(api):
    error = error_of(api.get("/search", params={"q": "traite", "sort": "date"}), 400)
    assert error == (
        "unknown parameter 'sort'; /search takes q, limit, offset, entity, type, lang, per_doc, plain, highlight"
    )
    error = error_of(api.get("/search", params={"q": "traite", "lang": "zz"}), 400)
    assert error.startswith("unknown language 'zz'; supported languages: ")


def test_server_entities_info_and_documents_are_the_library_answers(api, seed_index):
    assert api.get("/entities", params={"type": "ORG", "limit": 2}).json() == {
        "entities": [vars(e) for e in seed_index.entities(label="ORG", limit=2)]
    }
    assert api.get("/info").json() == vars(seed_index.info())
    listed = api.get("/documents").json()
    assert listed == {"total": 1, "offset": 0, "documents": [vars(d) for d in seed_index.documents()]}
    assert listed["documents"][0]["id"] == SEED_ID
    assert api.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/entities?type=PLACE", 400, "unknown entity type 'PLACE'; use one of: PER, ORG, LOC, MISC"),
        ("GET", "/entities?limit=5000", 400, "limit must be between 1 and 1000, not 5000"),
        ("GET", "/info?verbose=1", 400, "unknown parameter 'verbose'; /info takes no parameters"),
        ("GET", "/nowhere", 404, "no such endpoint: /nowhere; see the README, section Serving over HTTP"),
        ("PUT", "/search?q=traite", 405, "PUT is not allowed on /search"),
        ("POST", "/info", 405, "POST is not allowed on /info"),
    ],
)
def test_server_other_bad_requests_are_json_errors(api, method, path, status, message):
    assert error_of(api.request(method, path), status) == message


@pytest.mark.parametrize(
    "path",
    [
        "/static/../setup.cfg",
        "/static/%2e%2e/%2e%2e/setup.cfg",
        "/static/index.html",
        "/static/..%2F..%2Fsearchlib.json",
        "/../../etc/passwd",
        "//etc/passwd",
        "/searchlib.json",
        "/static/app.js/../../searchlib.json",
    ],
)
def test_server_serves_no_file_but_the_page_s_own(api, path):
    response = api.get(path)
    assert response.status_code in (404, 405), path
    assert "error" in response.json()


def test_server_page_files_are_served_with_a_strict_policy(api):
    page = api.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert '<script src="/static/app.js"' in page.text
    assert api.get("/static/app.js").headers["content-type"] == "text/javascript; charset=utf-8"
    assert api.get("/static/style.css").headers["content-type"] == "text/css; charset=utf-8"


def test_server_an_unexpected_failure_is_a_500_without_its_traceback(api, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret detail of a bug")

    monkeypatch.setattr("searchlib.index.Index.search", broken)
    with caplog.at_level(logging.ERROR, logger="searchlib.server"):
        response = api.get("/search", params={"q": "traite"})
    assert error_of(response, 500) == "the server failed to answer this request; its log says why"
    assert "secret" not in response.text
    [record] = [r for r in caplog.records if r.name == "searchlib.server"]
    assert record.message == "GET /search failed"
    assert "secret detail of a bug" in caplog.text and "Traceback" in caplog.text


# -- writing ------------------------------------------------------------------


def test_server_writes_are_off_without_a_token(api, seed_index):
    before = seed_index.info()
    error = error_of(api.post("/documents", json={"id": "n", "text": "Une note."}, headers=AUTH), 403)
    assert error == "writes are off on this server; start it with --write-token or $SEARCHLIB_WRITE_TOKEN to allow them"
    assert error_of(api.delete(f"/documents/{SEED_ID}", headers=AUTH), 403) == error
    assert seed_index.info() == before


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-of-some-length"}, {"Authorization": TOKEN}])
def test_server_a_write_without_the_right_token_is_refused(writable, headers):
    client, index = writable
    response = client.post("/documents", json={"id": "n", "text": "Une note sur la traite."}, headers=headers)
    assert error_of(response, 401) == "this request needs the server's write token, as the header Authorization: Bearer TOKEN"
    assert response.headers["www-authenticate"] == "Bearer"
    assert error_of(client.delete(f"/documents/{SEED_ID}", headers=headers), 401)
    assert [d.id for d in index.documents()] == [SEED_ID]


def test_server_post_then_search_then_delete(writable):
    client, index = writable
    body = {"id": "notes/lisbonne.txt", "title": "Traité", "text": "Le traité de Lisbonne a été signé en 2007."}
    report = client.post("/documents", json=body, headers=AUTH)
    assert report.status_code == 200, report.text
    assert report.json()["documents"] == 1 and report.json()["passages"] >= 1
    hits = client.get("/search", params={"q": "Lisbonne"}).json()["hits"]
    assert [(h["doc_id"], h["text"][h["matches"][0][0]:h["matches"][0][1]]) for h in hits] == [("notes/lisbonne.txt", "Lisbonne")]
    # Sent again unchanged: skipped.
    assert client.post("/documents", json=body, headers=AUTH).json()["unchanged"] == 1
    # An id with a slash is one path parameter, encoded or not.
    assert client.delete("/documents/notes%2Flisbonne.txt", headers=AUTH).json() == {"deleted": "notes/lisbonne.txt"}
    assert client.get("/search", params={"q": "Lisbonne"}).json()["hits"] == []
    error = error_of(client.delete("/documents/notes/lisbonne.txt", headers=AUTH), 404)
    assert error == "no document 'notes/lisbonne.txt' in the index; GET /documents lists them"
    assert index.check().documents == 1


@pytest.mark.parametrize(
    ("content", "ids"),
    [
        ('{"id": "a", "text": "Première note."}\n{"id": "b", "text": "Seconde note."}\n', ["a", "b"]),
        ('[{"id": "a", "text": "Première note."}, {"id": 7, "text": "Seconde note.", "lang": "fr"}]', ["7", "a"]),
    ],
)
def test_server_post_takes_jsonl_and_json_arrays(writable, content, ids):
    client, index = writable
    response = client.post("/documents", content=content.encode("utf-8"), headers=AUTH)
    assert response.json()["documents"] == 2
    assert sorted(d.id for d in index.documents() if d.id != SEED_ID) == ids


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"", 400, 'the body is empty; send a JSON document {"id": ..., "text": ...} or JSONL'),
        (b"id=a&text=b", 400, "the body is neither JSON nor JSONL: line 1 is not JSON (Expecting value at column 1)"),
        (b'{"id": "a", "text": "x"}\n{"id": "b", "text": ', 400,
         "the body is neither JSON nor JSONL: line 2 is not JSON (Expecting value at column 21)"),
        (b"\xff\xfe\x00a", 400, "the body is not UTF-8 text; send JSON or JSONL documents in UTF-8"),
        (b"[]", 400, "the body holds no document"),
        (b'"text"', 400, 'the document is not a JSON object like {"id": ..., "text": ...}'),
        (b'{"text": "x"}', 400, 'the document needs an "id": a non-empty string or an integer'),
        (b'{"id": "a"}', 400, 'the document needs "text" as a string'),
        (b'[{"id": "a", "text": "x"}, {"id": "b", "text": 3}]', 400, 'item 2 needs "text" as a string'),
        (b'{"id": "a", "text": "x", "path": "/etc/passwd"}', 400,
         "the document has an unknown field 'path'; the fields are id, text, title and lang"),
        (b'[{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]', 400, "the document id 'a' is given twice in the body"),
        (b'{"id": "a", "text": "x", "lang": "zz"}', 400, None),
    ],
)
def test_server_a_bad_body_is_refused_and_nothing_is_written(writable, content, status, message):
    client, index = writable
    error = error_of(client.post("/documents", content=content, headers=AUTH), status)
    if message is not None:
        assert error == message
    assert [d.id for d in index.documents()] == [SEED_ID]


def test_server_a_body_too_large_is_refused_before_it_is_read(writable, monkeypatch):
    client, index = writable
    monkeypatch.setattr(server_module, "MAX_BODY_BYTES", 1000)
    big = json.dumps({"id": "big", "text": "mot " * 1000}).encode()
    error = error_of(client.post("/documents", content=big, headers=AUTH), 413)
    assert error == "the body is larger than 1000 bytes; send the documents in several requests"

    def chunks():  # no Content-Length: the server counts as it reads
        yield big[:600]
        yield big[600:]

    assert error_of(client.post("/documents", content=chunks(), headers=AUTH), 413) == error
    assert [d.id for d in index.documents()] == [SEED_ID]


def test_server_a_write_while_another_process_writes_is_a_503(writable, monkeypatch):
    client, index = writable
    monkeypatch.setattr(server_module, "WRITE_WAIT", 0.3)
    other = open_index(index.path)
    with other._write_lock(0):  # another writer: its own descriptor, so the server's flock waits
        response = client.post("/documents", json={"id": "n", "text": "Une note."}, headers=AUTH)
        deleted = client.delete(f"/documents/{SEED_ID}", headers=AUTH)
    for answer in (response, deleted):
        assert error_of(answer, 503) == "the index is being written by another writer; retry in a few seconds"
        assert answer.headers["retry-after"] == "5"
    assert [d.id for d in index.documents()] == [SEED_ID]
    assert client.post("/documents", json={"id": "n", "text": "Une note."}, headers=AUTH).status_code == 200


def test_server_requests_cannot_reach_files_outside_the_index(writable, tmp_path):
    client, index = writable
    outside = tmp_path / "outside.txt"
    outside.write_text("Ceci est un secret.", encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    # A document is its JSON, never a file that the client names.
    assert client.post("/documents", json={"id": str(outside), "text": "Une note."}, headers=AUTH).status_code == 200
    assert client.get("/search", params={"q": "secret"}).json()["hits"] == []
    assert error_of(client.delete("/documents/..%2F..%2Foutside.txt", headers=AUTH), 404)
    assert client.delete(f"/documents/{outside}", headers=AUTH).json() == {"deleted": str(outside)}
    assert outside.read_text(encoding="utf-8") == "Ceci est un secret."
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# -- the command ------------------------------------------------------------------


def test_server_command_needs_an_index_when_read_only(run, tmp_path):
    result = run("serve", "--index", tmp_path / "none")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: no index at {tmp_path / 'none'}; build one with: searchlib index [PATH...] --index {tmp_path / 'none'}\n"
    )


def test_server_command_refuses_a_short_token(run, seed_index):
    result = run("serve", "--index", seed_index.path, "--write-token", "short")
    assert result.exit_code == 1
    assert result.output == (
        "Error: the write token must be at least 16 characters long; make one with: "
        "python -c \"import secrets; print(secrets.token_urlsafe())\"\n"
    )


def test_server_command_without_the_extra_says_how_to_install_it(seed_index):
    code = "import sys; sys.modules['starlette'] = None; from searchlib.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "serve", "--index", str(seed_index.path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr == (
        "Error: searchlib serve needs Starlette and uvicorn (starlette is missing); "
        "install them with: pip install 'searchlib[serve]'\n"
    )


def start_command(*args, env=None):
    """``searchlib serve ARGS...`` in a new process, on a free port; returns it and its URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "searchlib", "serve", "--port", str(port), "--quiet", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read())
        try:
            if httpx.get(url + "/healthz", timeout=1).json() == {"status": "ok"}:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("the server did not start")


def stop(process, sig=signal.SIGTERM):
    process.send_signal(sig)
    out, err = process.communicate(timeout=120)
    # uvicorn re-raises the signal once it has shut down.
    assert process.returncode in (0, -sig), err
    return err


@pytest.mark.slow
def test_server_command_says_where_it_listens_and_stops_on_sigterm(seed_index):
    process, url = start_command("--index", seed_index.path)
    assert httpx.get(url + "/search", params={"q": "traite"}).json()["total"] > 0
    err = stop(process)
    assert f"Serving the index at {seed_index.path} (process {process.pid}); writes are off; analysis of fr ready in " in err
    assert f"Uvicorn running on {url}" in err
    assert "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_server_a_write_in_flight_at_shutdown_commits(seed_copy, sig):
    process, url = start_command("--index", seed_copy.path, env={"SEARCHLIB_WRITE_TOKEN": TOKEN})
    text = "\n\n".join(f"Paragraphe {i} sur la coopération judiciaire contre la traite." for i in range(300))
    answers = []
    writer = threading.Thread(
        target=lambda: answers.append(
            httpx.post(url + "/documents", json={"id": "long", "text": text}, headers=AUTH, timeout=300)
        )
    )
    writer.start()
    wait_for_writer(seed_copy.path)
    err = stop(process, sig)
    writer.join()
    assert answers[0].status_code == 200, answers[0].text
    assert "Traceback" not in err
    with open_index(seed_copy.path) as index:
        assert index.check().documents == 2
        assert index.search("coopération", limit=1).hits[0].doc_id == "long"


@pytest.mark.slow
def test_server_killed_during_a_write_leaves_the_last_commit_intact(seed_copy):
    process, url = start_command("--index", seed_copy.path, env={"SEARCHLIB_WRITE_TOKEN": TOKEN})
    text = "\n\n".join(f"Paragraphe {i} sur la coopération judiciaire contre la traite." for i in range(300))
    failed = []

    def post():
        try:
            httpx.post(url + "/documents", json={"id": "long", "text": text}, headers=AUTH, timeout=300)
        except httpx.TransportError as exc:
            failed.append(exc)

    writer = threading.Thread(target=post)
    writer.start()
    wait_for_writer(seed_copy.path)
    process.kill()
    process.communicate(timeout=60)
    writer.join()
    assert failed, "the write finished before the kill"
    with open_index(seed_copy.path) as index:
        assert index.check().documents == 1
        assert [d.id for d in index.documents()] == [SEED_ID]
        # The next writer finds the index as the last commit left it, and writes.
        index.add([Document(id="after", text="Une note écrite après.")])
        assert index.check().documents == 2


def wait_for_writer(path, timeout=60.0):
    """Wait until a process holds the write lock of the index at ``path``."""
    from searchlib.store import LOCK_FILE

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if json.loads((path / LOCK_FILE).read_text(encoding="utf-8")).get("pid"):
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    raise AssertionError("no writer took the lock")


@pytest.mark.slow
def test_server_workers_share_the_index_and_see_each_other_s_writes(tmp_path):
    index = create_index(tmp_path / "ix")
    index.add([CORPUS])
    process, url = start_command("--index", index.path, "--workers", "2", env={"SEARCHLIB_WRITE_TOKEN": TOKEN})
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            assert client.post("/documents", json={"id": "n", "text": "Le traité de Lisbonne."}, headers=AUTH).status_code == 200
            # New connections, spread over both workers: each sees the commit.
            for _ in range(10):
                with httpx.Client(base_url=url, timeout=60) as fresh:
                    assert [h["doc_id"] for h in fresh.get("/search", params={"q": "Lisbonne"}).json()["hits"]] == ["n"]
    finally:
        err = stop(process)
    assert err.count("Serving the index at") == 2
    assert "Traceback" not in err


@pytest.mark.slow
def test_server_load_while_another_process_indexes(tmp_path, fork_cli):
    """Client threads against two workers while ``searchlib index`` commits into the same folder.

    Every answer is valid JSON, none is a 5xx or a lost connection, each
    search sees a whole commit, and the new documents show once committed.
    Timings are bench/serve.py's business, not this test's.
    """
    names = write_notes(tmp_path / "notes", 60)
    index = create_index(tmp_path / "ix")
    index.add([CORPUS])
    process, url = start_command("--index", index.path, "--workers", "2")
    requests = [
        ("/search", {"q": "note", "per_doc": "true", "limit": "100"}, 200),
        ("/search", {"q": "traite", "limit": "5", "offset": "5"}, 200),
        ("/search", {"q": "victimes", "entity": "OSCE"}, 200),
        ("/search", {"q": "justic~"}, 200),
        ("/entities", {"limit": "10"}, 200),
        ("/info", {}, 200),
        ("/documents", {}, 200),
        ("/search", {"q": '"note'}, 400),
    ]
    outcomes: list[tuple[str, int | None, str]] = []
    seen: set[int] = set()
    writer = fork_cli("index", tmp_path / "notes", "--index", index.path, "--batch-size", 4, "--quiet")
    wait_for_writer(index.path)

    def client(n):
        with httpx.Client(base_url=url, timeout=120) as http:
            for i in range(60):
                path, params, expected = requests[(n + i) % len(requests)]
                try:
                    response = http.get(path, params=params)
                except httpx.TransportError as exc:
                    outcomes.append((path, None, f"{type(exc).__name__}: {exc}"))
                    continue
                try:
                    body = response.json()
                except ValueError:
                    outcomes.append((path, response.status_code, "not JSON"))
                    continue
                if response.status_code != expected:
                    outcomes.append((path, response.status_code, str(body)[:200]))
                elif params.get("q") == "note":
                    found = sorted(h["doc_id"] for h in body["hits"] if h["doc_id"] in names)
                    if found != names[: len(found)] or len(found) % 4:
                        outcomes.append((path, 200, f"a partial commit: {len(found)} notes"))
                    seen.add(len(found))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.join()
    try:
        assert writer.exitcode == 0
        assert outcomes == []
        # The load ran while the notes were being committed.
        assert len({count for count in seen if 0 < count < len(names)}) >= 2, seen
        final = httpx.get(url + "/search", params={"q": "note", "per_doc": "true", "limit": 100}).json()
        assert sorted(h["doc_id"] for h in final["hits"] if h["doc_id"] in names) == names
    finally:
        err = stop(process)
    assert "Traceback" not in err
