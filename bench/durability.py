"""What durable commits cost: the time indexing spends waiting for fsync.

    python bench/durability.py --docs 400                 # ELTeC chunks, default batches
    python bench/durability.py --docs 400 --batch-size 10 # many small commits

Indexes the first ``--docs`` documents of ../shared/data/eltec-fra/corpus.jsonl.gz
(French novels in chunks of about 1,800 characters) into a new index in one
process (``jobs=1``), then deletes a tenth of them in one commit. Every
fsync that :func:`searchlib.store.durable` writers make is timed where it
happens, so the figure is what durability adds to this very run: the seconds
spent in fsync against the seconds of the whole run, per commit, and the
bytes synced. The index is made in the temporary folder (``TMPDIR``): point
that at the disk to measure.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import need
from bench import CORPUS, stream_corpus

import searchlib.store
from searchlib import Document, create_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=None, help="documents per commit (default: searchlib's)")
    args = parser.parse_args()
    documents = [Document(id=d["id"], title=d.get("title", ""), text=d["text"], lang="fr")
                 for d in stream_corpus(need(CORPUS), args.docs)]

    calls: list[tuple[str, float, int]] = []
    real = searchlib.store._fsync

    def timed(path: Path) -> None:
        size = path.stat().st_size if path.is_file() else 0
        started = time.perf_counter()
        real(path)
        calls.append((path.name, time.perf_counter() - started, size))

    searchlib.store._fsync = timed
    with tempfile.TemporaryDirectory() as folder:
        index = create_index(Path(folder) / "index")
        started = time.perf_counter()
        options = {"batch_size": args.batch_size} if args.batch_size else {}
        index.add(documents, jobs=1, **options)
        adding = time.perf_counter() - started
        toc = [name for name, _, _ in calls if name.startswith("_MAIN_")]
        synced_adding = sum(seconds for _, seconds, _ in calls)
        bytes_adding = sum(size for name, _, size in calls if name.endswith(".seg"))
        commits = len(toc)
        before = len(calls)
        started = time.perf_counter()
        index.delete([d.id for d in documents[::10]])
        deleting = time.perf_counter() - started
        synced_deleting = sum(seconds for _, seconds, _ in calls[before:])
    print(f"{len(documents)} documents in {commits} commits: {adding:.1f} s, of which {synced_adding * 1000:.0f} ms in fsync "
          f"({synced_adding / adding:.2%}; {synced_adding / commits * 1000:.1f} ms a commit, "
          f"{bytes_adding / 1e6:.1f} MB of segments synced)")
    print(f"one delete commit: {deleting * 1000:.0f} ms, of which {synced_deleting * 1000:.1f} ms in fsync")


if __name__ == "__main__":
    main()
