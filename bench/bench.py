#!/usr/bin/env python3
"""searchlib's speed benchmark: indexing against spaCy itself, queries, cold start, size, memory.

    python bench/bench.py --docs 2000 [--jobs 1,2] [--out bench/results/run.json]

Everything is measured in one run, on the first ``--docs`` documents of
``../shared/data/eltec-fra/corpus.jsonl.gz`` (streamed, never held in memory):

* **raw**: words/s of plain ``nlp.pipe`` with exactly searchlib's spaCy
  components, on the same texts, in one process (and with spaCy's own
  ``n_process`` for each ``--jobs`` above 1);
* **index**: ``searchlib`` end-to-end indexing (``Index.add`` on a JSONL file)
  for each ``--jobs``: words/s, documents/s, passages/s, the ratio to raw,
  peak memory of the process tree, and the index size against the raw text;
* **queries**: warm latency through the Python API, with highlights, over real
  PIAF questions and over term, phrase, fuzzy and entity-filter queries;
* **cold**: ``searchlib search`` as a new process on the bundled article's
  index, median of 5;
* **reference**: plain Whoosh with its own French ``StemmingAnalyzer``.

Each phase runs in a process of its own. The machine is shared, so the JSON
records, for every phase, the CPU that other processes used meanwhile: compare
ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import gzip
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

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
CORPUS = DATA / "eltec-fra" / "corpus.jsonl.gz"
PIAF = DATA / "piaf" / "queries.jsonl"
COLD_QUERY = "victimes de la traite"
QUERY_KINDS = ("piaf", "term", "phrase", "fuzzy", "entity")


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
    """The first ``--docs`` documents as a plain JSONL file (streamed), and their raw size."""
    jsonl = work / "corpus.jsonl"
    chars = size = docs = 0
    with jsonl.open("w", encoding="utf-8") as out:
        for record in stream_corpus(args.corpus, args.docs):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            chars += len(record["text"])
            size += len(record["text"].encode("utf-8"))
            docs += 1
    return {"path": str(jsonl), "documents": docs, "chars": chars, "text_bytes": size}


def query_sets(index_path: Path, jsonl: Path, piaf: Path, n_piaf: int, n_each: int, seed: int) -> dict[str, list]:
    """Queries for each kind, drawn from the indexed texts (and PIAF's real questions)."""
    from searchlib import open_index

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
    fuzzy = []
    for word in rnd.sample([w for w in words if len(w) >= 6], n_each):
        i = rnd.randrange(1, len(word) - 1)
        fuzzy.append(word[:i] + rnd.choice("aeioustr") + word[i + 1:] + "~")
    # An entity filter with a word of a passage that names the entity, so that most have hits.
    entity = []
    with open_index(index_path) as index:
        entities = [e.text for e in index.entities(limit=200)]
        for name in rnd.choices(entities, k=n_each) if entities else []:
            passage = rnd.choice(index.search(f'entity:"{name}"', limit=20).hits).text
            candidates = [w for w in re.findall(r"[^\W\d_]+", passage) if len(w) >= 4] or [name]
            entity.append((rnd.choice(candidates), name))
    questions = []
    with piaf.open(encoding="utf-8") as lines:
        for line in lines:
            questions.append(json.loads(line)["text"])
    return {"piaf": questions[:n_piaf], "term": terms, "phrase": phrases, "fuzzy": fuzzy, "entity": entity}


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
            "main_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "worker_maxrss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
            "index_bytes": info.size_bytes, "segments": _segments(index_dir)}


def _segments(index_dir: str) -> int:
    from whoosh import index as windex

    return len(windex.open_dir(index_dir)._segments())


def phase_reference(jsonl: str, index_dir: str) -> dict:
    """Plain Whoosh, its own French StemmingAnalyzer, one document per record."""
    from whoosh import fields
    from whoosh import index as windex
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.lang import stemmer_for_language, stopwords_for_language

    analyzer = StemmingAnalyzer(stemfn=stemmer_for_language("fr"), stoplist=stopwords_for_language("fr"))
    schema = fields.Schema(id=fields.ID(stored=True, unique=True), title=fields.TEXT(analyzer=analyzer, stored=True),
                           text=fields.TEXT(analyzer=analyzer, stored=True))
    os.makedirs(index_dir)
    ix = windex.create_in(index_dir, schema)
    started = time.monotonic()
    writer = ix.writer(limitmb=256)
    docs = 0
    with open(jsonl, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            writer.add_document(id=record["id"], title=record.get("title") or "", text=record["text"])
            docs += 1
    writer.commit()
    seconds = time.monotonic() - started
    size = sum(f.stat().st_size for f in Path(index_dir).iterdir())
    return {"documents": docs, "seconds": round(seconds, 2), "index_bytes": size}


def phase_queries(index_dir: str, jsonl: str, piaf: str, n_piaf: int, n_each: int, seed: int) -> dict:
    """Warm latency through the Python API, highlights included."""
    from searchlib import open_index

    sets = query_sets(Path(index_dir), Path(jsonl), Path(piaf), n_piaf, n_each, seed)
    results: dict[str, dict] = {}
    everything: list[float] = []
    with open_index(index_dir) as index:
        def search(kind: str, query) -> object:
            if kind == "entity":
                word, entity = query
                return index.search(word, entity=entity)
            # Questions are text pasted from elsewhere, not query syntax (as `searchlib eval` reads them).
            return index.search(query, plain=kind == "piaf")

        for kind in QUERY_KINDS:
            # Warm: the searcher opened, and spaCy loaded for the words the index has never seen.
            for query in sets[kind][:20]:
                search(kind, query)
            latencies = []
            hits = 0
            for query in sets[kind]:
                started = time.perf_counter()
                found = search(kind, query)
                latencies.append(time.perf_counter() - started)
                hits += bool(found.hits)
            if latencies:
                results[kind] = {**percentiles(latencies), "with_hits": hits}
                everything.extend(latencies)
    results["all"] = percentiles(everything)
    return results


def phase_reference_queries(index_dir: str, jsonl: str, piaf: str, n_piaf: int, n_each: int, seed: int,
                            searchlib_index: str) -> dict:
    """The same queries on plain Whoosh, with its highlighter."""
    from whoosh import index as windex
    from whoosh.qparser import FuzzyTermPlugin, MultifieldParser, OrGroup

    sets = query_sets(Path(searchlib_index), Path(jsonl), Path(piaf), n_piaf, n_each, seed)
    ix = windex.open_dir(index_dir)
    parser = MultifieldParser(["title", "text"], ix.schema, group=OrGroup)
    parser.add_plugin(FuzzyTermPlugin())
    results: dict[str, dict] = {}
    with ix.searcher() as searcher:
        for kind in ("piaf", "term", "phrase", "fuzzy"):
            latencies = []
            for i, query in enumerate(sets[kind]):
                started = time.perf_counter()
                hits = searcher.search(parser.parse(query), limit=10)
                len(hits)
                for hit in hits:
                    hit.highlights("text")
                if i >= 20:  # the first 20 warm up
                    latencies.append(time.perf_counter() - started)
            results[kind] = percentiles(latencies)
    return results


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
                    "_reference": lambda a: phase_reference(a[0], a[1]),
                    "_queries": lambda a: phase_queries(a[0], a[1], a[2], int(a[3]), int(a[4]), int(a[5])),
                    "_reference_queries": lambda a: phase_reference_queries(a[0], a[1], a[2], int(a[3]), int(a[4]),
                                                                            int(a[5]), a[6]),
                    "_cold": lambda a: phase_cold(a[0], int(a[1]))}
        print(json.dumps(handlers[phase](rest)))
        return

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, required=True, help="Documents to index, from the start of the corpus.")
    parser.add_argument("--jobs", default="1,2", help="Comma-separated --jobs values to index with (default 1,2).")
    parser.add_argument("--out", type=Path, help="Write the JSON here (default: bench/results/<date>-<docs>.json).")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--piaf", type=Path, default=PIAF)
    parser.add_argument("--piaf-queries", type=int, default=500, help="PIAF questions to time (default 500).")
    parser.add_argument("--queries", type=int, default=200, help="Queries of each other kind (default 200).")
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip", default="", help="Comma-separated phases to skip: raw, raw-parallel, reference, queries, cold.")
    parser.add_argument("--workdir", type=Path, help="Where indexes are built (default: a temporary folder, removed).")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    jobs_list = [int(j) for j in args.jobs.split(",")]
    for path in (args.corpus, args.piaf):
        if not path.exists():
            raise SystemExit(f"{path} is missing: the shared data sets live beside the project, in ../shared/data/")

    work = args.workdir or Path(tempfile.mkdtemp(prefix="searchlib-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = run_all(args, work, jobs_list, skip)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    out = args.out or ROOT / "bench" / "results" / f"{time.strftime('%Y%m%d-%H%M%S')}-docs{args.docs}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(f"\nJSON: {out}")


def run_all(args: argparse.Namespace, work: Path, jobs_list: list[int], skip: set[str]) -> dict:
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
        "args": {"docs": args.docs, "jobs": jobs_list, "piaf_queries": args.piaf_queries, "queries": args.queries},
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

    if "reference" not in skip:
        log("plain Whoosh, StemmingAnalyzer")
        ref_dir = str(work / "reference")
        shutil.rmtree(ref_dir, ignore_errors=True)
        ref = run_phase(["_reference", jsonl, ref_dir])
        ref["words_per_s"] = round(corpus_words(result) / ref["seconds"]) if corpus_words(result) else None
        ref["size_vs_text"] = round(ref["index_bytes"] / corpus["text_bytes"], 2)
        result["reference"] = ref

    if "queries" not in skip and index_dir:
        log("warm queries")
        common = [jsonl, str(args.piaf), str(args.piaf_queries), str(args.queries), str(args.seed)]
        result["queries"] = run_phase(["_queries", index_dir, *common], sample_memory=False)
        if "reference" not in skip:
            log("warm queries, plain Whoosh")
            result["reference"]["queries"] = run_phase(["_reference_queries", ref_dir, *common, index_dir],
                                                       sample_memory=False)

    if "cold" not in skip:
        log("cold searchlib search")
        result["cold"] = run_phase(["_cold", str(work / "seed-index"), str(args.cold_runs)], sample_memory=False)
    result["machine"]["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    return result


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
    """The short table: one line per measurement."""
    lines = []
    corpus = result["corpus"]
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
    ref = result.get("reference")
    if ref:
        lines.append(f"{'plain Whoosh, StemmingAnalyzer':34} {ref['words_per_s'] or 0:>9,} "
                     f"{ref['documents'] / ref['seconds']:>8.1f} {'':>8} {'':>7} {ref['others_cores']:>7} "
                     f"{ref['peak_rss_tree_mb']:>7} MB {ref['peak_pss_tree_mb']:>4} MB")
    lines.append("")
    for jobs, run in result["index"].items():
        extra = f", speed-up vs --jobs 1: x{run['speedup_vs_jobs1']}" if "speedup_vs_jobs1" in run else ""
        lines.append(f"--jobs {jobs}: {run['documents']:,} documents, {run['passages']:,} passages in "
                     f"{run['seconds']:.0f}s ({run['model_seconds']:.1f}s loading the model){extra}; "
                     f"ratio to raw x jobs {run.get('ratio_to_raw_x_jobs', '?')}, CPU ratio {run.get('cpu_ratio_to_raw', '?')}")
    last = list(result["index"].values())[-1]
    lines.append(f"index size: {last['index_bytes'] / 2**20:.1f} MiB = {last['size_vs_text']} x the text "
                 f"({last['segments']} segments)" + (f"; plain Whoosh: {ref['size_vs_text']} x" if ref else ""))
    queries = result.get("queries")
    if queries:
        lines.append("")
        lines.append(f"{'warm queries (ms)':20} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}   plain Whoosh p50/p99")
        refq = (ref or {}).get("queries", {})
        for kind in (*QUERY_KINDS, "all"):
            if kind in queries:
                q = queries[kind]
                other = refq.get(kind)
                other_text = f"{other['p50_ms']:>8} / {other['p99_ms']}" if other else ""
                lines.append(f"{kind:20} {q['n']:>5} {q['p50_ms']:>8} {q['p95_ms']:>8} {q['p99_ms']:>8} {q['max_ms']:>8}   {other_text}")
    cold = result.get("cold")
    if cold:
        lines.append("")
        lines.append(f"cold `searchlib search \"{cold['query']}\"`: median {cold['median_s']}s of {len(cold['runs_s'])} "
                     f"(imports spaCy: {cold['imports_spacy']})")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
