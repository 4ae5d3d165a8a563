"""One long document on one line: time, progress estimates, temporary disk and memory.

    python bench/long_document.py --chars 2000000             # indexed, measured
    python bench/long_document.py --chars 2000000 --max-chars 1000000   # refused

The text is real French: PIAF paragraphs (../shared/data/piaf/corpus.jsonl),
repeated in order and joined by spaces, with no line break anywhere, so that
the whole file is one paragraph and its first line the title. The indexing
runs in a child process, through the library, with the command's own
progress line drawn on a pretend terminal; this process samples, every
0.2 s, the resident memory of the child and its workers and the size of the
index folder (temporary files included). It prints one JSON object: how
long, how fast, the peaks, how long the final commit took, and how good the
progress line's time left was: the reports of the run are replayed through a
real ProgressLine whose speed is measured over 20, 60 or 120 seconds, and
each estimate is compared with the analysis time that was actually left.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DATA, need

from searchlib.cli import ProgressLine

CHILD = """
import json, sys, time
from searchlib import open_index
from searchlib.cli import ProgressLine

class Screen:
    def __init__(self):
        self.started = time.monotonic()
        self.lines = []
    def write(self, text):
        text = text.strip("\\r").strip()
        if text:
            self.lines.append((round(time.monotonic() - self.started, 2), text))
    def flush(self):
        pass

screen = Screen()
progress = ProgressLine(screen)
warnings = []
events = []

def update(p):
    events.append((round(p.seconds, 2), p.chars, p.skipped_chars, p.total_chars, p.writing))
    progress.update(p)

index = open_index(sys.argv[1], create=True)
options = json.loads(sys.argv[4])
report = index.add([sys.argv[2]], jobs=int(sys.argv[3]), on_progress=update, on_warning=warnings.append, **options)
print(json.dumps({"documents": report.documents, "passages": report.passages, "words": report.words,
                  "seconds": report.seconds, "model_seconds": report.model_seconds, "warnings": warnings,
                  "lines": screen.lines, "events": events}))
"""


def write_text(path: Path, chars: int) -> int:
    """``chars`` characters of PIAF paragraphs on one line; returns the number written."""
    paragraphs = []
    with need(DATA / "piaf" / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            paragraphs.append(" ".join(json.loads(line)["text"].split()))
    written = 0
    with path.open("w", encoding="utf-8") as out:
        i = 0
        while written < chars:
            piece = paragraphs[i % len(paragraphs)][: chars - written]
            if written:
                piece = " " + piece[: chars - written - 1]
            out.write(piece)
            written += len(piece)
            i += 1
    return written


def folder_bytes(path: Path) -> tuple[int, int]:
    """Bytes in ``path`` and its subfolders, and of those in temporary folders (Whoosh's ``*.tmp``)."""
    total = temporary = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            try:
                size = os.stat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                continue
            total += size
            if dirpath != str(path) and dirpath.endswith(".tmp"):
                temporary += size
    return total, temporary


def left_seconds(line: str) -> float | None:
    match = re.search(r"(?:(\d+)h)?(?:(\d+)m)?(\d+(?:\.\d)?)s left", line)
    if not match:
        match = re.search(r"(\d+)h(\d+)m left", line)
        return None if not match else int(match.group(1)) * 3600 + int(match.group(2)) * 60
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


def replay(events: list, end: float, window: float) -> tuple[float | None, list[dict[str, float]]]:
    """Feed the recorded reports to a real :class:`ProgressLine` whose time left goes by ``window`` seconds.

    Returns the median relative error of the time left it drew, against the
    analysis time that was actually left, and the estimates at each tenth.
    """
    import statistics

    from searchlib.cli import ProgressLine
    from searchlib import Progress

    class Screen:
        def __init__(self) -> None:
            self.last = ""

        def write(self, text: str) -> None:
            self.last = text.strip("\r").strip() or self.last

        def flush(self) -> None:
            pass

    screen = Screen()
    line = ProgressLine(screen)
    line.LEFT_WINDOW = window
    final = max((e[1] for e in events), default=0)
    analyzed = min((e[0] for e in events if e[1] == final), default=end)  # when the last text was analyzed
    drawn = []
    for seconds, chars, skipped, total, writing in events:
        line.update(Progress(documents=0, passages=0, words=0, seconds=seconds, chars=chars, skipped_chars=skipped,
                             total_chars=total, writing=writing))
        left = left_seconds(screen.last)
        if left is not None and not writing and seconds < analyzed:
            drawn.append((seconds, left, analyzed - seconds))
    errors = [abs(estimated - actual) / actual for t, estimated, actual in drawn if t > 0.1 * end]
    tenths = []
    for share in [i / 10 for i in range(1, 10)]:
        before = [d for d in drawn if d[0] <= share * end]
        if before:
            t, estimated, actual = before[-1]
            tenths.append({"at_s": t, "estimated_left_s": round(estimated, 1), "actual_left_s": round(actual, 1)})
    return (round(statistics.median(errors), 2) if errors else None), tenths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=2_000_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--max-chars", type=int, default=None, help="The limit given to Index.add (default: its own).")
    parser.add_argument("--events", type=Path, default=None,
                        help="Also write every progress report, (seconds, chars, skipped, total, writing), here.")
    args = parser.parse_args()

    import psutil

    with tempfile.TemporaryDirectory(prefix="searchlib-long-") as tmp:
        text = Path(tmp) / "une-ligne.txt"
        chars = write_text(text, args.chars)
        index = Path(tmp) / "index"
        options = {} if args.max_chars is None else {"max_chars": args.max_chars}
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(index), str(text), str(args.jobs), json.dumps(options)],
            stdout=subprocess.PIPE, text=True,
        )
        handle = psutil.Process(child.pid)
        peak_rss = peak_pss = peak_disk = peak_temporary = 0
        last_pss = 0.0
        while child.poll() is None:
            try:
                tree = [handle, *handle.children(recursive=True)]
                peak_rss = max(peak_rss, sum(p.memory_info().rss for p in tree if p.is_running()))
                if time.monotonic() - last_pss > 2:  # PSS reads every page table: not too often
                    peak_pss = max(peak_pss, sum(p.memory_full_info().pss for p in tree if p.is_running()))
                    last_pss = time.monotonic()
            except psutil.Error:
                pass
            if index.is_dir():
                disk, temporary = folder_bytes(index)
                peak_disk, peak_temporary = max(peak_disk, disk), max(peak_temporary, temporary)
            time.sleep(0.2)
        result = json.loads(child.stdout.read().strip().splitlines()[-1])
        final_disk = folder_bytes(index)[0] if index.is_dir() else 0

    if args.events:
        args.events.write_text(json.dumps({"seconds": result["seconds"], "events": result["events"]}), encoding="utf-8")
    end = result["seconds"]
    writing = [e[0] for e in result["events"] if e[4]]
    estimates = {f"{window:g}s": replay(result["events"], end, window) for window in (20.0, 60.0, 120.0)}
    working = result["seconds"] - result["model_seconds"]
    print(json.dumps({
        "chars": chars,
        "jobs": args.jobs,
        "documents": result["documents"],
        "passages": result["passages"],
        "seconds": round(result["seconds"], 1),
        "model_seconds": round(result["model_seconds"], 1),
        "chars_per_s": round(chars / working) if result["documents"] and working > 0 else None,
        "peak_rss_tree_mb": round(peak_rss / 2**20),
        "peak_pss_tree_mb": round(peak_pss / 2**20),
        "peak_index_folder_mb": round(peak_disk / 2**20, 1),
        "peak_temporary_mb": round(peak_temporary / 2**20, 1),
        "final_index_mb": round(final_disk / 2**20, 1),
        "warnings": result["warnings"],
        "last_progress_line": result["lines"][-2][1] if len(result["lines"]) > 1 else None,
        "writing_seconds": round(end - writing[-1], 1) if writing else None,
        # The progress line's time left, replayed on the same reports with its speed
        # measured over each span: the median of |estimated - actual| / actual
        # (the final commit, which it does not claim to foresee, left out of "actual").
        "time_left_median_error": {k: v[0] for k, v in estimates.items()},
        "time_left_by_tenth": estimates[f"{ProgressLine.LEFT_WINDOW:g}s"][1],
    }, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
