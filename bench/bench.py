#!/usr/bin/env python3
"""searchlib's speed benchmark: indexing against spaCy itself, queries, cold start, size, memory, peers.

    python bench/bench.py --docs 2000 [--jobs 1,2] [--peers] [--out bench/results/run.json]

Everything is measured in one run, on the first ``--docs`` documents of
``../shared/data/eltec-fra/corpus.jsonl.gz`` (streamed, never held in memory):

* **raw**: words/s of plain ``nlp.pipe`` with exactly searchlib's spaCy
  components, on the same texts, in one process (and with spaCy's own
  ``n_process`` for each ``--jobs`` above 1);
* **index**: ``searchlib`` end-to-end indexing (``Index.add`` on a JSONL file)
  for each ``--jobs``: words/s, documents/s, passages/s, the ratio to raw,
  peak memory of the process tree, and the index size against the raw text;
- with ``--cluster N``, the same on a Dask cluster of N worker processes here
  (``searchlib index --cluster local:N``), with the coordinator's busy time
  and the peak memory of the coordinator and of each worker;
* **queries**: warm latency through the Python API, with highlights, top 10,
  over real PIAF questions and over term, phrase, fuzzy, prefix and
  entity-filter queries drawn from the indexed texts;
* **cold**: ``searchlib search`` as a new process on the bundled article's
  index, median of 5;
* **peers**: the same documents indexed by other engines, asked the same
  queries, top 10 with their own highlighter, warm: plain Whoosh (its French
  ``StemmingAnalyzer`` and stop words) always, unless skipped, and with
  ``--peers`` tantivy too (French stop words, Snowball stemmer, ASCII
  folding, its ``SnippetGenerator``). The table gives searchlib's latency and
  size as ratios to each peer's.

**What the peers index.** By default (``--peer-unit passage``) one peer
document per passage, cut by the rule searchlib documents (whole sentences,
up to three or about 500 characters, never across a paragraph) with a
regular expression for sentences, each with its document's title: the same
units searchlib ranks and highlights, so that every engine returns ten
passage-sized hits and highlights passage-sized texts. The run prints how many
units that makes beside searchlib's passage count. ``--peer-unit document``
indexes one peer document per corpus record instead (the issue's first
reference figures), so peers rank fewer, longer texts and highlight within them.

**How peers read the queries**, as their users would: a PIAF question is
pasted text, so Whoosh parses it with no syntax plugin but whitespace, and
tantivy parses it with its syntax characters escaped (how many questions its
parser rejects unescaped is counted); a query either parser still rejects is
counted and searched as its analyzed words (term queries). Terms and phrases
go through each parser; fuzzy terms are Whoosh's ``word~1/1`` (one edit, the
first letter kept, as searchlib's ``word~``) and tantivy's parser with the
fields fuzzy at distance 1 (it cannot keep a first letter); prefixes are Whoosh's ``pre*`` and
a tantivy regex query ``pre.*`` on the folded prefix (its parser has no
single-term prefix); an entity filter, which needs the entities no peer
extracts, becomes ``word AND "the entity's name"``. Each peer's count of
queries with hits is reported: a fast query that finds nothing is no win.

Each phase runs in a process of its own (the query sets too, written once to
a file that every engine's query phase reads). The machine is shared, so the
JSON records, for every phase, the CPU that other processes used meanwhile:
compare ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
CORPUS = DATA / "eltec-fra" / "corpus.jsonl.gz"
PIAF = DATA / "piaf" / "queries.jsonl"
COLD_QUERY = "victimes de la traite"
QUERY_KINDS = ("piaf", "term", "phrase", "fuzzy", "prefix", "entity")
#: The engines measured beside searchlib, in the order the tables show them.
PEERS = ("whoosh", "tantivy")
PEER_NAMES = {"whoosh": "plain Whoosh", "tantivy": "tantivy"}
#: Queries of each kind run untimed first, by every engine alike (others than the timed ones).
WARMUP = 50
#: Hits per query, for every engine.
TOP = 10
#: searchlib's passage rule (searchlib.analysis), which --peer-unit passage follows.
PASSAGE_SENTENCES = 3
PASSAGE_CHARS = 500
#: Longest tantivy snippet: a passage's length, as searchlib highlights whole passages.
SNIPPET_CHARS = PASSAGE_CHARS
#: Letters a prefix query keeps of its word.
PREFIX_LETTERS = 5


# -- measuring ------------------------------------------------------------------


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_phase(args: list[str], *, sample_memory: bool = True) -> dict:
    """Run ``bench.py <args>`` in a new process; its JSON answer, plus CPU and memory of its process tree."""
    import psutil

    busy0, cpu0, wall0 = _busy_seconds(), _children_cpu(), time.monotonic()
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    peak_rss = peak_pss = 0
    handle = psutil.Process(proc.pid)
    last_pss = 0.0
    while proc.poll() is None:
        if sample_memory:
            try:
                tree = [handle, *handle.children(recursive=True)]
                peak_rss = max(peak_rss, sum(_safe(lambda p: p.memory_info().rss, p) for p in tree))
                if time.monotonic() - last_pss > 2:  # PSS reads every page table: not too often
                    peak_pss = max(peak_pss, sum(_safe(lambda p: p.memory_full_info().pss, p) for p in tree))
                    last_pss = time.monotonic()
            except psutil.Error:
                pass
        time.sleep(0.25)
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"phase {args[0]} failed with exit code {proc.returncode}")
    wall = time.monotonic() - wall0
    cpu = _children_cpu() - cpu0
    result = json.loads(out.strip().splitlines()[-1])
    result["process_wall_s"] = round(wall, 2)
    result["process_cpu_s"] = round(cpu, 2)
    # What the rest of the machine did meanwhile, in cores: the noise to keep in mind.
    result["others_cores"] = round(max(0.0, (_busy_seconds() - busy0 - cpu) / wall), 2)
    if sample_memory:
        result["peak_rss_tree_mb"] = round(peak_rss / 2**20)
        result["peak_pss_tree_mb"] = round(peak_pss / 2**20)
    return result


def peak_rss_mb() -> int:
    """This process's peak resident memory, in MB.

    Not ``ru_maxrss``: Linux keeps it across ``exec``, so a phase would
    report at least the size of the bench process that forked it.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _safe(fn, proc) -> int:
    try:
        return fn(proc)
    except Exception:
        return 0


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"n": len(ordered), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "max_ms": round(1000 * ordered[-1], 2), "mean_ms": round(1000 * statistics.fmean(ordered), 2)}


# -- data -----------------------------------------------------------------------


def stream_corpus(path: Path, n: int):
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for i, line in enumerate(lines):
            if i >= n:
                return
            yield json.loads(line)


def prepare(args: argparse.Namespace, work: Path) -> dict:
    """The first ``--docs`` documents as a plain JSONL file (streamed), the peers' units, and their raw size."""
    jsonl = work / "corpus.jsonl"
    units = work / f"units-{args.peer_unit}.jsonl"
    chars = size = docs = count = 0
    with jsonl.open("w", encoding="utf-8") as out, units.open("w", encoding="utf-8") as peer_out:
        for record in stream_corpus(args.corpus, args.docs):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            chars += len(record["text"])
            size += len(record["text"].encode("utf-8"))
            docs += 1
            for unit in peer_units(record, args.peer_unit):
                peer_out.write(json.dumps(unit, ensure_ascii=False) + "\n")
                count += 1
    return {"path": str(jsonl), "documents": docs, "chars": chars, "text_bytes": size,
            "peer_unit": args.peer_unit, "peer_units": count, "units_path": str(units)}


_PARAGRAPH = re.compile(r"\S(?:.(?!\n[ \t]*\n))*.?", re.DOTALL)
_SENTENCE = re.compile(r"\S.*?(?:[.!?…]+[»\"”')\]]*(?=\s)|$)", re.DOTALL)


def split_passages(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of passages cut by searchlib's rule, with a regular expression for sentences.

    Whole sentences, up to three or about 500 characters, never across a
    paragraph (a blank line). searchlib finds sentences with spaCy, so the
    counts differ a little; the run prints both.
    """
    passages = []
    for paragraph in _PARAGRAPH.finditer(text):
        current: list[tuple[int, int]] = []
        for sentence in _SENTENCE.finditer(paragraph.group()):
            start, end = paragraph.start() + sentence.start(), paragraph.start() + sentence.end()
            if current and (len(current) >= PASSAGE_SENTENCES or end - current[0][0] > PASSAGE_CHARS):
                passages.append((current[0][0], current[-1][1]))
                current = []
            current.append((start, end))
        if current:
            passages.append((current[0][0], current[-1][1]))
    return passages


def peer_units(record: dict, unit: str):
    """What a peer indexes for one corpus record: its passages, or the record whole."""
    title = record.get("title") or ""
    if unit == "document":
        yield {"id": record["id"], "doc_id": record["id"], "title": title, "text": record["text"]}
        return
    for number, (start, end) in enumerate(split_passages(record["text"])):
        yield {"id": f"{record['id']}#{number}", "doc_id": record["id"], "title": title,
               "text": record["text"][start:end]}


def read_jsonl(path: str | Path):
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def fuzzy_queries(words: list[str], rnd: random.Random, n: int) -> list[str]:
    """Words of six letters or more, one letter changed, searched with ``~``."""
    fuzzy = []
    for word in rnd.sample([w for w in words if len(w) >= 6], n):
        i = rnd.randrange(1, len(word) - 1)
        fuzzy.append(word[:i] + rnd.choice("aeioustr") + word[i + 1:] + "~")
    return fuzzy


def entity_queries(index_path: Path, rnd: random.Random, n: int) -> list[tuple[str, str]]:
    """An entity filter with a word of a passage that names the entity, so that most have hits."""
    from searchlib import open_index

    entity = []
    with open_index(index_path) as index:
        entities = [e.text for e in index.entities(limit=200)]
        for name in rnd.choices(entities, k=n) if entities else []:
            passage = rnd.choice(index.search(f'entity:"{name}"', limit=20).hits).text
            candidates = [w for w in re.findall(r"[^\W\d_]+", passage) if len(w) >= 4] or [name]
            entity.append((rnd.choice(candidates), name))
    return entity


def query_sets(index_path: Path, jsonl: Path, piaf: Path, n_piaf: int, n_each: int, seed: int) -> dict[str, Any]:
    """Queries for each kind, drawn from the indexed texts (and PIAF's real questions)."""
    rnd = random.Random(seed)
    words: list[str] = []
    pairs: list[str] = []
    with jsonl.open(encoding="utf-8") as lines:
        for line in lines:
            tokens = re.findall(r"[^\W\d_]+", json.loads(line)["text"])
            words.extend(t for t in tokens if len(t) >= 4)
            pairs.extend(f"{a} {b}" for a, b in zip(tokens, tokens[1:]) if len(a) >= 4 and len(b) >= 4)
    terms = rnd.sample(words, n_each)
    phrases = [f'"{p}"' for p in rnd.sample(pairs, n_each)]
    fuzzy = fuzzy_queries(words, rnd, n_each)
    entity = entity_queries(index_path, rnd, n_each)
    # Drawn last, so that the other kinds keep the queries of earlier runs.
    prefix = [w[:PREFIX_LETTERS] + "*" for w in rnd.sample([w for w in words if len(w) >= PREFIX_LETTERS + 2], n_each)]
    questions = []
    with piaf.open(encoding="utf-8") as lines:
        for line in lines:
            questions.append(json.loads(line)["text"])
    # Each kind warms on queries of its own kind that are not timed (drawn after
    # the others, which stay those of earlier runs): what a process that has
    # served such queries has read and kept, the timed queries have not.
    warmup = {
        "piaf": questions[n_piaf:n_piaf + WARMUP],
        "term": rnd.sample(words, WARMUP),
        "phrase": [f'"{p}"' for p in rnd.sample(pairs, WARMUP)],
        "fuzzy": fuzzy_queries(words, rnd, WARMUP),
        "prefix": [w[:PREFIX_LETTERS] + "*" for w in rnd.sample([w for w in words if len(w) >= PREFIX_LETTERS + 2], WARMUP)],
        "entity": entity_queries(index_path, rnd, WARMUP),
    }
    return {"piaf": questions[:n_piaf], "term": terms, "phrase": phrases, "fuzzy": fuzzy, "prefix": prefix,
            "entity": entity, "warmup": warmup}


# -- phases (each runs in a process of its own) ----------------------------------


def phase_raw(jsonl: str, n_process: int) -> dict:
    """Plain nlp.pipe with searchlib's components: the physical limit."""
    from searchlib.languages import DEFAULT_LANGUAGE
    from searchlib.nlp import load_pipeline
    from searchlib.text import normalize_apostrophes

    started = time.monotonic()
    nlp = load_pipeline(DEFAULT_LANGUAGE)
    load = time.monotonic() - started

    def texts():
        with open(jsonl, encoding="utf-8") as lines:
            for line in lines:
                yield normalize_apostrophes(json.loads(line)["text"])

    started, cpu = time.monotonic(), time.process_time()
    words = 0
    for doc in nlp.pipe(texts(), n_process=n_process):
        words += sum(1 for token in doc if not (token.is_space or token.is_punct))
    seconds = time.monotonic() - started
    return {"n_process": n_process, "components": nlp.pipe_names, "words": words, "seconds": round(seconds, 2),
            "model_seconds": round(load, 2), "words_per_s": round(words / seconds),
            "main_cpu_s": round(time.process_time() - cpu, 2)}


def phase_index(jsonl: str, index_dir: str, jobs: int) -> dict:
    """searchlib's whole indexing, as ``searchlib index`` runs it."""
    from searchlib import create_index

    index = create_index(index_dir)
    started, cpu = time.monotonic(), time.process_time()
    report = index.add([jsonl], jobs=jobs)
    seconds = time.monotonic() - started
    info = index.info()
    return {"jobs": jobs, "documents": report.documents, "passages": report.passages, "words": report.words,
            "seconds": round(seconds, 2), "model_seconds": round(report.model_seconds, 2),
            "main_cpu_s": round(time.process_time() - cpu, 2),
            "main_maxrss_mb": peak_rss_mb(),
            "worker_maxrss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
            "index_bytes": info.size_bytes, "segments": _segments(index_dir)}


def phase_index_cluster(jsonl: str, index_dir: str, workers: int) -> dict:
    """searchlib's indexing on a Dask cluster of ``workers`` processes here (``searchlib index --cluster local:N``).

    The cluster is started, and its workers load their models, before the
    clock starts: that time is reported as the model's, as for ``--jobs``.
    The coordinator's busy time is the CPU of the thread that runs
    ``Index.add`` (planning, copying segments in, committing, merging); the
    scheduler's threads share its process and are counted apart.
    """
    import logging

    from distributed import Client, LocalCluster

    from searchlib import create_index
    from searchlib.cluster import PLUGIN_NAME, models_plugin

    started = time.monotonic()
    cluster = LocalCluster(n_workers=workers, processes=True, threads_per_worker=1, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    client.register_plugin(models_plugin(), name=PLUGIN_NAME)
    loading = time.monotonic() - started
    index = create_index(index_dir)
    started, cpu, thread_cpu = time.monotonic(), time.process_time(), time.thread_time()
    report = index.add([jsonl], cluster=cluster.scheduler_address)
    seconds = time.monotonic() - started
    coordinator, process = time.thread_time() - thread_cpu, time.process_time() - cpu
    worker_rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    client.close()
    cluster.close()
    info = index.info()
    return {"jobs": workers, "documents": report.documents, "passages": report.passages, "words": report.words,
            "seconds": round(seconds, 2), "model_seconds": round(loading, 2),
            "coordinator_cpu_s": round(coordinator, 2), "coordinator_busy_share": round(coordinator / seconds, 3),
            "main_cpu_s": round(process, 2), "main_maxrss_mb": peak_rss_mb(),
            "worker_maxrss_mb": round(max(worker_rss.values()) / 1024),
            "index_bytes": info.size_bytes, "segments": _segments(index_dir)}


def _segments(index_dir: str) -> int:
    from whoosh import index as windex

    return len(windex.open_dir(index_dir)._segments())


def phase_size(index_dir: str, text_bytes: int) -> dict:
    """Where searchlib's index bytes go, by field (bench/size.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from size import breakdown

    return breakdown(index_dir, text_bytes=text_bytes).to_dict()


def phase_query_sets(index_dir: str, jsonl: str, piaf: str, n_piaf: int, n_each: int, seed: int, out: str) -> dict:
    """Draw the queries once, for every engine's query phase to read."""
    sets = query_sets(Path(index_dir), Path(jsonl), Path(piaf), n_piaf, n_each, seed)
    Path(out).write_text(json.dumps(sets, ensure_ascii=False) + "\n", encoding="utf-8")
    return {kind: len(queries) for kind, queries in sets.items() if kind != "warmup"}


def time_queries(sets: dict[str, list], search) -> dict:
    """Warm each kind on its untimed queries (``sets["warmup"]``, else its first), then time every query.

    ``search(kind, query)`` returns the total, the hits shown, and how many of
    them have a word marked: a highlighter that marks nothing shows up.
    """
    results: dict[str, dict] = {}
    everything: list[float] = []
    for kind in QUERY_KINDS:
        queries = sets.get(kind) or []
        for query in sets.get("warmup", {}).get(kind) or queries[:WARMUP]:
            search(kind, query)
        latencies = []
        hits = shown = marked = 0
        for query in queries:
            started = time.perf_counter()
            total, top, highlighted = search(kind, query)
            latencies.append(time.perf_counter() - started)
            hits += bool(total)
            shown += top
            marked += highlighted
        if latencies:
            results[kind] = {**percentiles(latencies), "with_hits": hits, "hits_shown": shown, "hits_marked": marked}
            everything.extend(latencies)
    if everything:
        results["all"] = percentiles(everything)
    results["maxrss_mb"] = peak_rss_mb()
    return results


def phase_queries(index_dir: str, sets_path: str) -> dict:
    """Warm latency through the Python API, highlights included."""
    from searchlib import open_index

    sets = json.loads(Path(sets_path).read_text(encoding="utf-8"))
    with open_index(index_dir) as index:
        def search(kind: str, query) -> tuple[int, int, int]:
            if kind == "entity":
                word, entity = query
                found = index.search(word, entity=entity, limit=TOP)
            else:
                # Questions are text pasted from elsewhere, not query syntax (as `searchlib eval` reads them).
                found = index.search(query, plain=kind == "piaf", limit=TOP)
            return found.total, len(found.hits), sum(bool(hit.matches) for hit in found.hits)

        return time_queries(sets, search)


def phase_peer_index(peer: str, units: str, index_dir: str) -> dict:
    """Index the peer units with one peer engine."""
    build = {"whoosh": whoosh_index, "tantivy": tantivy_index}[peer]
    os.makedirs(index_dir)
    started, cpu = time.monotonic(), time.process_time()
    info = build(units, index_dir)
    seconds = time.monotonic() - started
    size = sum(f.stat().st_size for f in Path(index_dir).rglob("*") if f.is_file())
    return {"peer": peer, **info, "seconds": round(seconds, 2), "main_cpu_s": round(time.process_time() - cpu, 2),
            "index_bytes": size}


def phase_peer_queries(peer: str, index_dir: str, sets_path: str) -> dict:
    """The same queries on one peer engine, top 10 with its highlighter."""
    sets = json.loads(Path(sets_path).read_text(encoding="utf-8"))
    notes: dict[str, dict[str, set]] = {kind: {} for kind in QUERY_KINDS}
    search = {"whoosh": whoosh_searcher, "tantivy": tantivy_searcher}[peer](index_dir, sets, notes)
    results = time_queries(sets, search)
    results["notes"] = {kind: {what: len(queries) for what, queries in counts.items()}
                        for kind, counts in notes.items() if counts}
    return results


#: What a peer's query note means, as the table prints it.
NOTES = {
    "rejected_as_pasted": "rejected by its parser as pasted (searched escaped)",
    "rejected": "rejected by its parser (searched as its analyzed words)",
    "not_one_word": "not one word once folded (searched as its words)",
    "unsearchable": "rejected even as plain words (searched as nothing)",
}


def _note(notes: dict[str, dict[str, set]], kind: str, what: str, query) -> None:
    """Remember that ``query`` met ``what``: each query counts once, though warm-up runs some twice."""
    notes[kind].setdefault(what, set()).add(json.dumps(query, ensure_ascii=False))


# -- plain Whoosh -------------------------------------------------------------------


def _whoosh_schema():
    from whoosh import fields
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.lang import stemmer_for_language, stopwords_for_language

    analyzer = StemmingAnalyzer(stemfn=stemmer_for_language("fr"), stoplist=stopwords_for_language("fr"))
    return fields.Schema(id=fields.ID(stored=True), doc_id=fields.ID(stored=True),
                         title=fields.TEXT(analyzer=analyzer, stored=True),
                         text=fields.TEXT(analyzer=analyzer, stored=True))


def whoosh_index(units: str, index_dir: str) -> dict:
    """Plain Whoosh, its own French StemmingAnalyzer and stop words."""
    from whoosh import index as windex

    ix = windex.create_in(index_dir, _whoosh_schema())
    writer = ix.writer(limitmb=256)
    count = 0
    for unit in read_jsonl(units):
        writer.add_document(id=unit["id"], doc_id=unit["doc_id"], title=unit["title"], text=unit["text"])
        count += 1
    writer.commit()
    return {"units": count, "segments": len(ix._segments())}


def whoosh_searcher(index_dir: str, sets: dict, notes: dict):
    """``search(kind, query)`` on plain Whoosh: parse, top 10, stored text and highlights of each hit."""
    from whoosh import index as windex
    from whoosh import query as wq
    from whoosh.qparser import FuzzyTermPlugin, MultifieldParser, OrGroup, WhitespacePlugin

    ix = windex.open_dir(index_dir)
    searcher = ix.searcher()
    fieldnames = ["title", "text"]
    syntax = MultifieldParser(fieldnames, ix.schema, group=OrGroup)
    syntax.add_plugin(FuzzyTermPlugin())
    # Pasted text: words only. With the default plugins, the "?" ending a
    # question is a wildcard that walks every term of both fields.
    plain = MultifieldParser(fieldnames, ix.schema, group=OrGroup, plugins=[WhitespacePlugin()])

    def parse(kind: str, text: str):
        parser = plain if kind == "piaf" else syntax
        try:
            return parser.parse(text)
        except Exception:
            _note(notes, kind, "rejected", text)
        try:
            return plain.parse(text)
        except Exception:
            _note(notes, kind, "unsearchable", text)
            return wq.NullQuery

    def search(kind: str, query) -> tuple[int, int, int]:
        if kind == "entity":
            word, name = query
            text = f'{word} AND "{_unquoted(name)}"'
        elif kind == "fuzzy":
            # searchlib's "word~": one edit, the first letter kept. Whoosh's
            # own default keeps none and compares the word with every term.
            text = query.rstrip("~") + "~1/1"
        else:
            text = query
        results = searcher.search(parse(kind, text), limit=TOP)
        total = len(results)
        marked = sum(bool(hit.highlights("text")) for hit in results)  # reads the stored text
        return total, results.scored_length(), marked

    return search


def _unquoted(name: str) -> str:
    """An entity name inside a phrase: without the quotes and backslashes that would end or escape it."""
    return " ".join(name.replace('"', " ").replace("\\", " ").split())


# -- tantivy ------------------------------------------------------------------------


def _tantivy_analyzer():
    """French: stop words and the Snowball stemmer see accented lowercase words; folding comes last."""
    import tantivy

    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.stopword("french"))
            .filter(tantivy.Filter.stemmer("french"))
            .filter(tantivy.Filter.ascii_fold())
            .build())


def tantivy_index(units: str, index_dir: str) -> dict:
    """tantivy, one writer thread (as searchlib --jobs 1 writes), its French analyzer on title and text."""
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("doc_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True, tokenizer_name="fr")
    builder.add_text_field("text", stored=True, tokenizer_name="fr")
    ix = tantivy.Index(builder.build(), path=index_dir)
    ix.register_tokenizer("fr", _tantivy_analyzer())
    writer = ix.writer(heap_size=128_000_000, num_threads=1)
    count = 0
    for unit in read_jsonl(units):
        writer.add_document(tantivy.Document(id=unit["id"], doc_id=unit["doc_id"], title=unit["title"],
                                             text=unit["text"]))
        count += 1
    writer.commit()
    writer.wait_merging_threads()
    ix.reload()
    return {"units": count, "segments": ix.searcher().num_segments, "version": tantivy.__version__}


#: tantivy's query syntax characters, escaped with a backslash to read pasted text as words.
_TANTIVY_SYNTAX = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/\'<>=`])')


def _escaped(text: str) -> str:
    return _TANTIVY_SYNTAX.sub(r"\\\1", text)


def tantivy_searcher(index_dir: str, sets: dict, notes: dict):
    """``search(kind, query)`` on tantivy: parse, top 10, stored document and snippet of each hit."""
    import tantivy

    ix = tantivy.Index.open(index_dir)
    analyzer = _tantivy_analyzer()
    ix.register_tokenizer("fr", analyzer)
    ix.reload()
    searcher = ix.searcher()
    schema = ix.schema
    fieldnames = ["title", "text"]
    fuzzy = {name: (False, 1, True) for name in fieldnames}  # (prefix, distance, transposition costs one)
    folding = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.lowercase()) \
        .filter(tantivy.Filter.ascii_fold()).build()
    # What a user pasting questions meets first: how many the parser rejects as they are.
    for question in sets.get("piaf", []):
        try:
            ix.parse_query(question, fieldnames)
        except ValueError:
            _note(notes, "piaf", "rejected_as_pasted", question)

    def words_query(text: str):
        terms = [tantivy.Query.term_query(schema, name, token) for token in analyzer.analyze(text) for name in fieldnames]
        if not terms:
            return tantivy.Query.empty_query()
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, term) for term in terms])

    def parse(kind: str, text: str, **options):
        try:
            return ix.parse_query(text, fieldnames, **options)
        except ValueError:
            _note(notes, kind, "rejected", text)
            return words_query(text.replace("\\", " "))

    def build(kind: str, query):
        if kind == "piaf":
            return parse(kind, _escaped(query))
        if kind == "fuzzy":
            return parse(kind, query.rstrip("~"), fuzzy_fields=fuzzy)
        if kind == "prefix":
            folded = folding.analyze(query.rstrip("*"))
            if len(folded) != 1:
                _note(notes, kind, "not_one_word", query)
                return words_query(query.rstrip("*"))
            pattern = re.escape(folded[0]) + ".*"
            return tantivy.Query.boolean_query([(tantivy.Occur.Should, tantivy.Query.regex_query(schema, name, pattern))
                                                for name in fieldnames])
        if kind == "entity":
            word, name = query
            return parse(kind, f'+{_escaped(word)} +"{_unquoted(name)}"')
        return parse(kind, query)

    def search(kind: str, query) -> tuple[int, int, int]:
        compiled = build(kind, query)
        found = searcher.search(compiled, TOP)
        snippets = tantivy.SnippetGenerator.create(searcher, compiled, schema, "text")
        snippets.set_max_num_chars(SNIPPET_CHARS)
        marked = 0
        for _, address in found.hits:
            snippet = snippets.snippet_from_doc(searcher.doc(address))
            snippet.to_html()
            marked += bool(snippet.highlighted())
        return found.count, len(found.hits), marked

    return search


def phase_cold(index_dir: str, runs: int) -> dict:
    """``searchlib search`` as a new process on the bundled article's index."""
    searchlib = shutil.which("searchlib")
    command = [searchlib] if searchlib else [sys.executable, "-m", "searchlib"]
    subprocess.run([*command, "index", "--index", index_dir, "--quiet"], check=True)
    times = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run([*command, "search", COLD_QUERY, "--index", index_dir], check=True, stdout=subprocess.DEVNULL)
        times.append(time.monotonic() - started)
    probe = ("import sys; from click.testing import CliRunner; from searchlib.cli import main; "
             f"r = CliRunner().invoke(main, ['search', {COLD_QUERY!r}, '--index', {index_dir!r}]); "
             "print('spacy' in sys.modules)")
    spacy_loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {"query": COLD_QUERY, "runs_s": [round(t, 3) for t in times], "median_s": round(statistics.median(times), 3),
            "imports_spacy": spacy_loaded.stdout.strip() == "True"}


# -- the run --------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        phase, *rest = sys.argv[1:]
        handlers = {"_raw": lambda a: phase_raw(a[0], int(a[1])), "_index": lambda a: phase_index(a[0], a[1], int(a[2])),
                    "_index_cluster": lambda a: phase_index_cluster(a[0], a[1], int(a[2])),
                    "_query_sets": lambda a: phase_query_sets(a[0], a[1], a[2], int(a[3]), int(a[4]), int(a[5]), a[6]),
                    "_queries": lambda a: phase_queries(a[0], a[1]),
                    "_peer_index": lambda a: phase_peer_index(a[0], a[1], a[2]),
                    "_peer_queries": lambda a: phase_peer_queries(a[0], a[1], a[2]),
                    "_size": lambda a: phase_size(a[0], int(a[1])),
                    "_cold": lambda a: phase_cold(a[0], int(a[1]))}
        print(json.dumps(handlers[phase](rest)))
        return

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, required=True, help="Documents to index, from the start of the corpus.")
    parser.add_argument("--jobs", default="1,2", help="Comma-separated --jobs values to index with (default 1,2).")
    parser.add_argument("--cluster", type=int, metavar="N", default=0,
                        help="Also index on a Dask cluster of N worker processes here (searchlib[cluster]).")
    parser.add_argument("--out", type=Path, help="Write the JSON here (default: bench/results/<date>-<docs>.json).")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--piaf", type=Path, default=PIAF)
    parser.add_argument("--piaf-queries", type=int, default=500, help="PIAF questions to time (default 500).")
    parser.add_argument("--queries", type=int, default=200, help="Queries of each other kind (default 200).")
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--peers", nargs="?", const=",".join(PEERS), default="whoosh",
                        help=f"Comma-separated engines to measure beside searchlib (default: whoosh; "
                             f"--peers alone: {','.join(PEERS)}).")
    parser.add_argument("--peer-unit", choices=("passage", "document"), default="passage",
                        help="What a peer document is: a passage cut by searchlib's rule (default), or a corpus record.")
    parser.add_argument("--skip", default="",
                        help="Comma-separated phases to skip: raw, raw-parallel, reference (plain Whoosh), peers, size, "
                             "queries, cold.")
    parser.add_argument("--workdir", type=Path, help="Where indexes are built (default: a temporary folder, removed).")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    jobs_list = [int(j) for j in args.jobs.split(",")]
    peers = [p for p in filter(None, args.peers.split(",")) if not ("peers" in skip or (p == "whoosh" and "reference" in skip))]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        raise SystemExit(f"unknown peer {unknown[0]!r}: --peers takes a comma-separated list of {', '.join(PEERS)}")
    if "tantivy" in peers and importlib.util.find_spec("tantivy") is None:
        raise SystemExit("tantivy is not installed: pip install -e '.[bench]' installs the peers")
    for path in (args.corpus, args.piaf):
        if not path.exists():
            raise SystemExit(f"{path} is missing: the shared data sets live beside the project, in ../shared/data/")

    work = args.workdir or Path(tempfile.mkdtemp(prefix="searchlib-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = run_all(args, work, jobs_list, skip, peers)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    out = args.out or ROOT / "bench" / "results" / f"{time.strftime('%Y%m%d-%H%M%S')}-docs{args.docs}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(f"\nJSON: {out}")


def run_all(args: argparse.Namespace, work: Path, jobs_list: list[int], skip: set[str], peers: list[str]) -> dict:
    import spacy
    import whoosh

    import searchlib

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    result: dict = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "spacy": spacy.__version__,
                    "whoosh": getattr(whoosh, "__version__", "?"), "searchlib": searchlib.__version__,
                    "commit": _git_commit(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "loadavg_at_start": os.getloadavg()},
        "args": {"docs": args.docs, "jobs": jobs_list, "piaf_queries": args.piaf_queries, "queries": args.queries,
                 "peers": peers, "peer_unit": args.peer_unit, "top": TOP, "warmup": WARMUP},
    }
    log(f"streaming {args.docs} documents from {args.corpus}")
    corpus = prepare(args, work)
    result["corpus"] = corpus
    jsonl = corpus["path"]

    if "raw" not in skip:
        raw_runs = [1] + ([j for j in jobs_list if j > 1] if "raw-parallel" not in skip else [])
        result["raw"] = {}
        for n in raw_runs:
            log(f"raw nlp.pipe, n_process={n}")
            result["raw"][str(n)] = run_phase(["_raw", jsonl, str(n)])

    result["index"] = {}
    index_dir = None
    for jobs in jobs_list:
        log(f"searchlib index --jobs {jobs}")
        index_dir = str(work / f"index-jobs{jobs}")
        shutil.rmtree(index_dir, ignore_errors=True)
        run = run_phase(["_index", jsonl, index_dir, str(jobs)])
        _rates(run, corpus, result.get("raw", {}))
        result["index"][str(jobs)] = run
    if len(jobs_list) > 1 and "1" in result["index"]:
        one = result["index"]["1"]
        for jobs, run in result["index"].items():
            run["speedup_vs_jobs1"] = round(one["seconds_working"] / run["seconds_working"], 2)

    if args.cluster:
        log(f"searchlib index --cluster local:{args.cluster}")
        cluster_dir = str(work / f"index-cluster{args.cluster}")
        shutil.rmtree(cluster_dir, ignore_errors=True)
        run = run_phase(["_index_cluster", jsonl, cluster_dir, str(args.cluster)])
        _rates(run, corpus, result.get("raw", {}))
        result["cluster"] = {f"local:{args.cluster}": run}

    if "size" not in skip and index_dir:
        log("where the index bytes go")
        result["size"] = run_phase(["_size", index_dir, str(corpus["text_bytes"])], sample_memory=False)

    result["peers"] = {}
    for peer in peers:
        log(f"{PEER_NAMES[peer]}: indexing {corpus['peer_units']:,} {args.peer_unit}s")
        peer_dir = str(work / f"peer-{peer}")
        shutil.rmtree(peer_dir, ignore_errors=True)
        run = run_phase(["_peer_index", peer, corpus["units_path"], peer_dir])
        words = corpus_words(result)
        run["words_per_s"] = round(words / run["seconds"]) if words and run["seconds"] else None
        run["size_vs_text"] = round(run["index_bytes"] / corpus["text_bytes"], 2)
        result["peers"][peer] = {"index": run, "dir": peer_dir}

    if "queries" not in skip and index_dir:
        sets = str(work / "queries.json")
        log("query sets")
        result["query_sets"] = run_phase(["_query_sets", index_dir, jsonl, str(args.piaf), str(args.piaf_queries),
                                          str(args.queries), str(args.seed), sets], sample_memory=False)
        log("warm queries")
        result["queries"] = run_phase(["_queries", index_dir, sets], sample_memory=False)
        for peer in peers:
            log(f"warm queries, {PEER_NAMES[peer]}")
            result["peers"][peer]["queries"] = run_phase(["_peer_queries", peer, result["peers"][peer]["dir"], sets],
                                                         sample_memory=False)
        result["ratios"] = ratios(result)

    if "cold" not in skip:
        log("cold searchlib search")
        result["cold"] = run_phase(["_cold", str(work / "seed-index"), str(args.cold_runs)], sample_memory=False)
    result["machine"]["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    return result


def ratios(result: dict) -> dict:
    """searchlib's latency percentiles and index size over each peer's, from this run: below 1, searchlib is faster or smaller."""
    ours = result.get("queries", {})
    size = list(result["index"].values())[-1]["index_bytes"]
    out: dict[str, dict] = {}
    for peer, run in result["peers"].items():
        theirs = run.get("queries", {})
        entry: dict = {"index_bytes": round(size / run["index"]["index_bytes"], 2)}
        for kind in (*QUERY_KINDS, "all"):
            if kind in ours and kind in theirs:
                entry[kind] = {q: round(ours[kind][q] / theirs[kind][q], 2) if theirs[kind][q] else None
                               for q in ("p50_ms", "p95_ms", "p99_ms")}
        out[peer] = entry
    return out


def corpus_words(result: dict) -> int:
    runs = result.get("index", {})
    return next(iter(runs.values()))["words"] if runs else 0


def _rates(run: dict, corpus: dict, raw: dict) -> None:
    """Throughputs of one indexing run: end to end, and once the model is loaded (as raw is measured)."""
    working = run["seconds"] - run["model_seconds"]
    run["seconds_working"] = round(working, 2)
    run["words_per_s"] = round(run["words"] / working)
    run["docs_per_s"] = round(run["documents"] / working, 1)
    run["passages_per_s"] = round(run["passages"] / working, 1)
    run["words_per_s_with_model_load"] = round(run["words"] / run["seconds"])
    run["size_vs_text"] = round(run["index_bytes"] / corpus["text_bytes"], 2)
    one = raw.get("1")
    if one:
        # Same texts, so the ratio of times is the ratio of throughputs; with
        # N jobs, the limit is N times one process.
        run["ratio_to_raw"] = round(one["seconds"] / working, 3)
        run["ratio_to_raw_x_jobs"] = round(one["seconds"] / (working * run["jobs"]), 3)
        run["cpu_ratio_to_raw"] = round(one["process_cpu_s"] / run["process_cpu_s"], 3)
    same = raw.get(str(run["jobs"]))
    if same and run["jobs"] > 1:
        run["ratio_to_spacy_n_process"] = round(same["seconds"] / working, 3)


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def table(result: dict) -> str:
    """The short table: one line per measurement, then searchlib against its peers."""
    lines = []
    corpus = result["corpus"]
    peers = result.get("peers", {})
    lines.append(f"corpus: {corpus['documents']:,} documents, {corpus['chars']:,} characters "
                 f"({corpus['text_bytes'] / 2**20:.1f} MiB of text)")
    lines.append("")
    lines.append(f"{'indexing':34} {'words/s':>9} {'docs/s':>8} {'pass./s':>8} {'ratio':>7} {'others':>7} "
                 f"{'peak RSS':>9} {'PSS':>7}")
    for n, raw in result.get("raw", {}).items():
        label = "raw nlp.pipe" + (f", n_process={n}" if n != "1" else "")
        lines.append(f"{label:34} {raw['words_per_s']:>9,} {'':>8} {'':>8} {'':>7} {raw['others_cores']:>7} "
                     f"{raw['peak_rss_tree_mb']:>7} MB {raw['peak_pss_tree_mb']:>4} MB")
    for jobs, run in result["index"].items():
        ratio = run.get("ratio_to_raw", "")
        lines.append(f"{'searchlib --jobs ' + jobs:34} {run['words_per_s']:>9,} {run['docs_per_s']:>8} "
                     f"{run['passages_per_s']:>8} {ratio:>7} {run['others_cores']:>7} "
                     f"{run['peak_rss_tree_mb']:>7} MB {run['peak_pss_tree_mb']:>4} MB")
    for peer, run in peers.items():
        index = run["index"]
        per_unit = f"{index['units'] / index['seconds']:>8.1f}" if corpus["peer_unit"] == "passage" else f"{'':>8}"
        lines.append(f"{PEER_NAMES[peer]:34} {index['words_per_s'] or 0:>9,} {corpus['documents'] / index['seconds']:>8.1f} "
                     f"{per_unit} {'':>7} {index['others_cores']:>7} "
                     f"{index['peak_rss_tree_mb']:>7} MB {index['peak_pss_tree_mb']:>4} MB")
    for address, run in result.get("cluster", {}).items():
        lines.append(f"{'searchlib --cluster ' + address:34} {run['words_per_s']:>9,} {run['docs_per_s']:>8} "
                     f"{run['passages_per_s']:>8} {run.get('ratio_to_raw', ''):>7} {run['others_cores']:>7} "
                     f"{run['peak_rss_tree_mb']:>7} MB {run['peak_pss_tree_mb']:>4} MB")
    lines.append("")
    for address, run in result.get("cluster", {}).items():
        lines.append(f"--cluster {address}: {run['documents']:,} documents, {run['passages']:,} passages in "
                     f"{run['seconds']:.0f}s ({run['model_seconds']:.1f}s starting the cluster and its models); "
                     f"coordinator busy {100 * run['coordinator_busy_share']:.0f}% ({run['coordinator_cpu_s']:.0f}s of CPU, "
                     f"{run['main_cpu_s']:.0f}s with the scheduler), peak RSS {run['main_maxrss_mb']} MB, "
                     f"each worker's at most {run['worker_maxrss_mb']} MB; {run['segments']} segments")
    for jobs, run in result["index"].items():
        extra = f", speed-up vs --jobs 1: x{run['speedup_vs_jobs1']}" if "speedup_vs_jobs1" in run else ""
        lines.append(f"--jobs {jobs}: {run['documents']:,} documents, {run['passages']:,} passages in "
                     f"{run['seconds']:.0f}s ({run['model_seconds']:.1f}s loading the model){extra}; "
                     f"ratio to raw x jobs {run.get('ratio_to_raw_x_jobs', '?')}, CPU ratio {run.get('cpu_ratio_to_raw', '?')}")
    last = list(result["index"].values())[-1]
    sizes = [f"{PEER_NAMES[peer]} {run['index']['size_vs_text']} x ({run['index']['segments']} segments)"
             for peer, run in peers.items()]
    lines.append(f"index size: {last['index_bytes'] / 2**20:.1f} MiB = {last['size_vs_text']} x the text "
                 f"({last['segments']} segments)" + ("; " + ", ".join(sizes) if sizes else ""))
    size = result.get("size")
    if size:
        shares = sorted(((f["total"], name) for name, f in size["fields"].items()), reverse=True)[:8]
        lines.append("by field (bench/size.py): " + ", ".join(f"{name} {100 * b / size['folder_bytes']:.0f}%"
                                                            for b, name in shares))
    if peers:
        what = (f"{corpus['peer_units']:,} passages cut by searchlib's rule (searchlib: {last['passages']:,})"
                if corpus["peer_unit"] == "passage" else f"{corpus['peer_units']:,} whole documents")
        lines.append(f"peers index {what}, title and text")
    queries = result.get("queries")
    if queries:
        engines = [("searchlib", queries)] + [(PEER_NAMES[p], run.get("queries", {})) for p, run in peers.items()]
        lines.append("")
        lines.append(f"warm queries, top {TOP} with highlights, ms: p50 / p95 / p99 (queries with hits)")
        lines.append(f"{'':8} {'n':>5}" + "".join(f"   {name:>28}" for name, _ in engines))
        for kind in (*QUERY_KINDS, "all"):
            if kind not in queries:
                continue
            cells = []
            for _, found in engines:
                q = found.get(kind)
                hits = f" ({q['with_hits']})" if q and "with_hits" in q else ""
                cells.append(f"{q['p50_ms']} / {q['p95_ms']} / {q['p99_ms']}{hits}" if q else "")
            lines.append(f"{kind:8} {queries[kind]['n']:>5}" + "".join(f"   {c:>28}" for c in cells))
        lines.append("searching process peak RSS: " + ", ".join(f"{name} {found.get('maxrss_mb', '?')} MB"
                                                            for name, found in engines))
        lines.extend(_ratio_lines(result))
    cold = result.get("cold")
    if cold:
        lines.append("")
        lines.append(f"cold `searchlib search \"{cold['query']}\"`: median {cold['median_s']}s of {len(cold['runs_s'])} "
                     f"(imports spaCy: {cold['imports_spacy']})")
    return "\n".join(lines)


#: The issue's aims: faster than plain Whoosh on every query kind, within 5x of tantivy.
TARGETS = {"whoosh": 1.0, "tantivy": 5.0}


def _ratio_lines(result: dict) -> list[str]:
    """searchlib over each peer, as a Markdown table, then the targets met and the peers' query notes."""
    ratios = result.get("ratios", {})
    if not ratios:
        return []
    peers = list(ratios)
    lines = ["", f"searchlib / peer, this run (below 1: searchlib is faster or smaller), top {TOP} with highlights, warm:", ""]
    lines.append("| | " + " | ".join(f"{PEER_NAMES[p]} p50 | p99" for p in peers) + " |")
    lines.append("|---|" + "---:|---:|" * len(peers))
    for kind in (*QUERY_KINDS, "all"):
        cells = []
        for p in peers:
            r = ratios[p].get(kind)
            cells += [_times(r["p50_ms"]), _times(r["p99_ms"])] if r else ["", ""]
        if any(cells):
            lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines.append("| index size | " + " | ".join(f"{_times(ratios[p]['index_bytes'])} | " for p in peers) + " |")
    lines.append("")
    for p in peers:
        limit = TARGETS.get(p)
        if limit is None:
            continue
        met, missed = [], []
        for kind in QUERY_KINDS:
            r = ratios[p].get(kind)
            if r and None not in (r["p50_ms"], r["p99_ms"]):
                worst = max(r["p50_ms"], r["p99_ms"])
                # "Faster" is strictly below 1; "within 5x" includes 5.
                (met if (worst < limit if limit == 1 else worst <= limit) else missed).append(kind)
        aim = "faster than" if limit == 1 else f"within {limit:g}x of"
        lines.append(f"{aim} {PEER_NAMES[p]} at p50 and p99 on: {', '.join(met) or 'none'}; not on: {', '.join(missed) or 'none'}")
    engines = [("searchlib", result.get("queries", {}))] + [(PEER_NAMES[p], run.get("queries", {}))
                                                           for p, run in result.get("peers", {}).items()]
    unmarked = [f"{name} {kind} {q['hits_shown'] - q['hits_marked']} of {q['hits_shown']}"
                for name, found in engines for kind in QUERY_KINDS
                if (q := found.get(kind)) and q.get("hits_marked", 0) < q.get("hits_shown", 0)]
    if unmarked:
        lines.append("hits shown with no word marked: " + ", ".join(unmarked))
    for p, run in result.get("peers", {}).items():
        notes = run.get("queries", {}).get("notes", {})
        if notes:
            said = "; ".join(f"{kind}: " + ", ".join(f"{n} {NOTES.get(what, what)}" for what, n in counts.items())
                             for kind, counts in notes.items())
            lines.append(f"{PEER_NAMES[p]}, queries {said}")
    return lines


def _times(value) -> str:
    return "" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    main()
