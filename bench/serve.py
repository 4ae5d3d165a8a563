#!/usr/bin/env python3
"""Throughput and latency of ``searchlib serve``, and of one Index shared by threads.

    python bench/serve.py [--queries 200] [--clients 8] [--workers 1,2,4] [--work DIR]

Everything is measured in one run, on PIAF (../shared/data/piaf: 1,518 French
Wikipedia paragraphs, indexed once into ``--work``, then reused), with
``--queries`` PIAF questions drawn with a fixed seed, searched as plain text
(``plain=true``, 10 hits, highlights on):

* **http**: ``searchlib serve --workers W`` for each W, and ``--clients``
  client threads on loopback (one keep-alive connection each) sending the
  questions: requests/s, p50 and p99 latency, and errors (a 5xx, a lost
  connection, an answer that is not JSON);
* **http + writer**: the same with one worker (and the most workers) while
  ``searchlib index`` adds 40 of NTREX-128's French articles to the same index
  (in batches of 5, so it commits 8 times), on a copy of it. The questions are
  sent again and again until the writer is done, and then the new articles
  must be served;
* **threads**: ``Index.search`` in this process from 1 and from 8 threads on
  one Index, with and without the writer, beside the same with every search
  behind one lock (how searchlib shared its reader before: a commit made every
  waiting search wait for the reader to be reopened).

Each figure comes from this run only, on a shared 2-core machine: the JSON
records how busy the whole machine was during each phase. Compare figures of
the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from _common import DATA, RESULTS, need

from searchlib import open_index

SEED = 2026
#: The writer adds this many NTREX-128 French articles, this many per commit.
WRITER_DOCUMENTS = 40
WRITER_BATCH = 5


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its children (the server's workers)."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def summary(latencies: list[float], seconds: float, errors: int, busy: float, cpu: float) -> dict:
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "requests": len(ordered),
        "seconds": round(seconds, 2),
        "per_second": round(len(ordered) / seconds, 1),
        "p50_ms": round(at(0.50), 1),
        "p99_ms": round(at(0.99), 1),
        "errors": errors,
        # CPU the searches cost (the server's processes, or this one), whatever
        # else the machine was doing: the steadiest figure on a shared machine.
        "cpu_ms_per_request": round(1000 * cpu / len(ordered), 1),
        # Cores the searches got: below the cores asked for, the machine was busy elsewhere.
        "cores_used": round(cpu / seconds, 2),
        # Cores busy on average across the whole machine (ours and everyone else's).
        "machine_busy_cores": round(busy / seconds, 2),
    }


# -- preparing --------------------------------------------------------------------


def piaf_index(work: Path) -> Path:
    path = work / "piaf"
    corpus = need(DATA / "piaf" / "corpus.jsonl")
    expected = sum(1 for line in corpus.open(encoding="utf-8") if line.strip())
    with contextlib.suppress(Exception), open_index(path) as index:
        if index.info().documents == expected:
            return path
    shutil.rmtree(path, ignore_errors=True)
    print(f"indexing {corpus} into {path} (a few minutes)…", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "searchlib", "index", str(corpus), "--index", str(path), "--quiet"], check=True)
    return path


def questions(n: int) -> list[str]:
    lines = need(DATA / "piaf" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    return random.Random(SEED).sample(texts, n)


def ntrex_french(work: Path) -> tuple[Path, list[str]]:
    """The first :data:`WRITER_DOCUMENTS` of NTREX-128's French articles as a JSONL file, and their ids."""
    out = work / "ntrex-fr.jsonl"
    ids = []
    with out.open("w", encoding="utf-8") as sink:
        for line in need(DATA / "ntrex128" / "corpus.jsonl").open(encoding="utf-8"):
            record = json.loads(line)
            if record.get("lang") == "fr" and len(ids) < WRITER_DOCUMENTS:
                ids.append(str(record["id"]))
                sink.write(line)
    return out, ids


# -- the server --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(index: Path, workers: int):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "searchlib", "serve", "--index", str(index), "--port", str(port),
         "--workers", str(workers), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(OSError, ValueError):
                if get(port, "/healthz")[0] == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start: {process.stderr.read()}")
            time.sleep(0.1)
        yield port, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
        if "Traceback" in err:
            print(err, file=sys.stderr)


def get(port: int, path: str, connection: http.client.HTTPConnection | None = None) -> tuple[int, object]:
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        if own:
            connection.close()


def load(port: int, pid: int, paths: list[str], clients: int, *, until: threading.Event | None = None) -> dict:
    """Send ``paths`` from ``clients`` threads (again and again until ``until`` is set, if given) to server ``pid``."""
    latencies: list[float] = []
    errors: list[str] = []

    def client(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine = paths[n::clients]
        rounds = 0
        while True:
            for path in mine:
                started = time.perf_counter()
                try:
                    status, body = get(port, path, connection)
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    continue
                latencies.append(time.perf_counter() - started)
                if status != 200 or not isinstance(body, dict) or "hits" not in body:
                    errors.append(f"{status}: {str(body)[:200]}")
            rounds += 1
            if until is None or until.is_set():
                break
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    busy, cpu, started = busy_seconds(), tree_cpu(pid), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    result = summary(latencies, seconds, len(errors), busy_seconds() - busy, tree_cpu(pid) - cpu)
    if errors:
        result["first_errors"] = errors[:5]
    return result


@contextlib.contextmanager
def writer(index: Path, jsonl: Path):
    """``searchlib index`` adding ``jsonl`` to ``index`` in another process; sets the event it yields when done."""
    done = threading.Event()
    process = subprocess.Popen(
        [sys.executable, "-m", "searchlib", "index", str(jsonl), "--index", str(index),
         "--batch-size", str(WRITER_BATCH), "--jobs", "1", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    started = time.perf_counter()
    watcher = threading.Thread(target=lambda: (process.wait(), done.set()))
    watcher.start()
    info: dict = {}
    try:
        yield done, info
    finally:
        watcher.join()
        info["seconds"] = round(time.perf_counter() - started, 1)
        info["exit_code"] = process.returncode
        if process.returncode:
            print(process.stderr.read(), file=sys.stderr)


def search_paths(texts: list[str]) -> list[str]:
    return ["/search?" + urlencode({"q": text, "plain": "true", "limit": 10}) for text in texts]


def wait_for_writer_to_start(index: Path) -> None:
    lock = index / "searchlib.lock"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if lock.read_text(encoding="utf-8").strip():
                return
        time.sleep(0.05)


# -- threads in one process ------------------------------------------------------------


def thread_load(index_path: Path, texts: list[str], threads: int, *, locked: bool,
                until: threading.Event | None = None) -> dict:
    """``Index.search`` from ``threads`` threads on one Index; ``locked``: every search behind one lock."""
    index = open_index(index_path)
    if locked:
        gate = threading.Lock()
        lend = index._readers.lend

        @contextlib.contextmanager
        def one_at_a_time():
            with gate, lend() as reader:
                yield reader

        index._readers.lend = one_at_a_time
    latencies: list[float] = []
    errors: list[str] = []

    def body(n: int) -> None:
        while True:
            for text in texts[n::threads]:
                started = time.perf_counter()
                try:
                    index.search(text, plain=True, limit=10)
                except Exception as exc:  # counted, and shown
                    errors.append(f"{type(exc).__name__}: {exc}")
                latencies.append(time.perf_counter() - started)
            if until is None or until.is_set():
                break

    workers = [threading.Thread(target=body, args=(n,)) for n in range(threads)]
    busy, cpu, started = busy_seconds(), time.process_time(), time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    result = summary(latencies, seconds, len(errors), busy_seconds() - busy, time.process_time() - cpu)
    if errors:
        result["first_errors"] = errors[:5]
    index.close()
    return result


# -- the run ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=200, help="PIAF questions per phase (default 200)")
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", default="1,2,4", help="server worker counts (default 1,2,4)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the indexes, reused (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=None, help="JSON results (default bench/results/serve-DATE.json)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="searchlib-serve-"))
    work.mkdir(parents=True, exist_ok=True)
    workers_list = [int(w) for w in args.workers.split(",")]
    base = piaf_index(work)
    texts = questions(args.queries)
    paths = search_paths(texts)
    extra, extra_ids = ntrex_french(work)
    with open_index(base) as index:
        documents = index.info().documents
    result: dict = {
        "corpus": f"PIAF, {documents} documents", "queries": len(texts), "clients": args.clients,
        "cpus": os.cpu_count(), "http": {}, "http_with_writer": {}, "threads": {},
    }

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    # Warm: spaCy loaded for the questions' new words, readers open (in every worker).
    with open_index(base) as index:
        for text in texts:
            index.search(text, plain=True)
    for workers in workers_list:
        with server(base, workers) as (port, pid):
            log(f"http, {workers} worker(s): warming up")
            load(port, pid, paths, args.clients)
            log(f"http, {workers} worker(s)")
            result["http"][workers] = load(port, pid, paths, args.clients)
    for workers in sorted({workers_list[0], workers_list[-1]}):
        scratch = work / "piaf-writer"
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(base, scratch)
        with server(scratch, workers) as (port, pid):
            log(f"http, {workers} worker(s): warming up")
            load(port, pid, paths, args.clients)
            log(f"http, {workers} worker(s), with a writer")
            with writer(scratch, extra) as (done, info):
                wait_for_writer_to_start(scratch)
                measured = load(port, pid, paths, args.clients, until=done)
            # Once committed, the new documents are served.
            listed = get(port, "/documents?limit=1")[1]
            measured["writer"] = {**info, "documents_added": len(extra_ids),
                                  "documents_after": listed["total"], "expected_after": documents + len(extra_ids)}
            result["http_with_writer"][workers] = measured
    for locked in (False, True):
        for threads in (1, 8):
            name = f"{threads} thread(s), {'one lock' if locked else 'a reader each'}"
            log(f"threads: {name}")
            result["threads"][name] = thread_load(base, texts, threads, locked=locked)
        scratch = work / "piaf-writer"
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(base, scratch)
        name = f"8 thread(s), {'one lock' if locked else 'a reader each'}, with a writer"
        log(f"threads: {name}")
        with writer(scratch, extra) as (done, info):
            wait_for_writer_to_start(scratch)
            measured = thread_load(scratch, texts, 8, locked=locked, until=done)
        measured["writer"] = info
        result["threads"][name] = measured
    out = args.out or RESULTS / f"serve-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(f"\n(JSON: {out})")


def table(result: dict) -> str:
    lines = [
        f"{result['corpus']}, {result['queries']} PIAF questions (plain, 10 hits, highlights), "
        f"{result['clients']} clients, {result['cpus']} cores",
        "",
        "| setup | requests/s | p50 ms | p99 ms | errors | CPU ms/request | cores used | machine busy (cores) |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def row(name: str, r: dict) -> str:
        return (
            f"| {name} | {r['per_second']} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} | "
            f"{r['cpu_ms_per_request']} | {r['cores_used']} | {r['machine_busy_cores']} |"
        )

    for workers, r in result["http"].items():
        lines.append(row(f"HTTP, {workers} worker(s)", r))
    for workers, r in result["http_with_writer"].items():
        w = r["writer"]
        lines.append(row(f"HTTP, {workers} worker(s), while `searchlib index` commits", r))
        lines.append(
            f"|   writer: {w['documents_added']} documents in {w['seconds']} s, exit {w['exit_code']}; "
            f"documents after: {w['documents_after']} of {w['expected_after']} | | | | | | | |"
        )
    for name, r in result["threads"].items():
        lines.append(row(f"Python, {name}", r))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
