"""Load-time cost of the index checksums: `load` of a knowledge base (default kb/default) and the
part of it spent verifying the sha256 of its files, alternating, N times each.

    python scripts/checksum_cost.py [KB_DIR] [-n 7]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from qa import index
from qa.config import from_env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kb", nargs="?", default=None)
    parser.add_argument("-n", type=int, default=7)
    args = parser.parse_args()
    root = Path(args.kb or from_env().kb_dir)
    build_dir = (root / "current").resolve()
    size = sum(p.stat().st_size for p in build_dir.rglob("*") if p.is_file())
    index.load(root)  # warm the page cache and jieba
    loads, verifies = [], []
    for _ in range(args.n):
        t0 = time.perf_counter()
        index.load(root)
        loads.append(time.perf_counter() - t0)
        manifest = index.read_manifest(root)
        t0 = time.perf_counter()
        index.verify_build(build_dir, manifest)
        verifies.append(time.perf_counter() - t0)
    load_ms, verify_ms = statistics.median(loads) * 1000, statistics.median(verifies) * 1000
    print(f"{root}: {size / 1e6:.1f} MB of index files; load median {load_ms:.0f} ms, of which checksums "
          f"{verify_ms:.0f} ms ({verify_ms / load_ms:.0%}); n={args.n}")


if __name__ == "__main__":
    main()
