"""Embedding throughput and quality of every backend, side by side in one run.

    python scripts/embed_bench.py [--n 512] [--backends torch-fp32,torch-bf16,onnx,onnx-int8] [--rounds 2]

Embeds the same report sentences (a fixed random sample of what the build embeds, after their
city) with each backend, after a warm-up, and prints sentences/s (best of the rounds, the rounds
alternating between backends so that load from other processes hits them alike), the per-vector
cosine to torch float32 (mean / min), and the CPU flags that decide the speed.
Set ATEN_CPU_CAPABILITY=avx2 to make torch use only AVX2 kernels (an older CPU, for torch only).
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from embeddings import load_embedder  # noqa: E402
from embeddings.onnx_runtime import physical_cores  # noqa: E402
from qa.chunking import chunk_document  # noqa: E402
from qa.index import DEFAULT_DATA_DIR  # noqa: E402
from qa.kinds import embedding_units  # noqa: E402
from qa.ingest import load_documents  # noqa: E402

VARIANTS = {  # name -> (backend, precision)
    "torch-fp32": ("torch", "fp32"),
    "torch-bf16": ("torch", "bf16"),
    "onnx": ("onnx", "auto"),
    "onnx-int8": ("onnx-int8", "auto"),
}


def report_sentences(n: int, seed: int = 0) -> list[str]:
    docs = load_documents([DEFAULT_DATA_DIR]).documents
    passages = [p for d in docs for p in chunk_document(d)]
    _, texts = embedding_units(passages)
    return random.Random(seed).sample(sorted(set(texts)), n)


def cpu_flags() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16")
    return " ".join(f for f in wanted if f" {f} " in f" {out} ".replace("\n", " "))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--backends", default=",".join(VARIANTS))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    names = args.backends.split(",")
    # the build embeds length-sorted batches (embed_with_cache): so does the benchmark
    texts = sorted(report_sentences(args.n), key=len)
    print(f"cpu flags: {cpu_flags()}; physical cores {physical_cores()}, affinity {len(os.sched_getaffinity(0))};"
          f" ATEN_CPU_CAPABILITY={os.environ.get('ATEN_CPU_CAPABILITY', '-')}")
    embedders = {}
    for name in names:
        t0 = time.perf_counter()
        embedders[name] = load_embedder(backend=VARIANTS[name][0], precision=VARIANTS[name][1])
        embedders[name].embed_passages(texts[-32:], batch_size=args.batch_size)  # load, export if needed, warm up
        print(f"{name:11s} ready in {time.perf_counter() - t0:5.1f} s", flush=True)
    best: dict[str, float] = {}
    vectors = {}
    for _ in range(args.rounds):
        for name in names:
            t0 = time.perf_counter()
            vectors[name] = embedders[name].embed_passages(texts, batch_size=args.batch_size)
            best[name] = max(best.get(name, 0.0), len(texts) / (time.perf_counter() - t0))
    ref = vectors.get("torch-fp32")
    if ref is None:
        ref = load_embedder(backend="torch", precision="fp32").embed_passages(texts, batch_size=args.batch_size)
    base = best.get("torch-fp32")
    print(f"{len(texts)} report sentences, batch {args.batch_size}, best of {args.rounds} rounds")
    print(f"{'backend':11s} {'sent/s':>7s} {'x fp32':>6s} {'cos mean':>9s} {'cos min':>8s}")
    for name in names:
        cos = (vectors[name] * ref).sum(axis=1)
        speedup = f"{best[name] / base:6.2f}" if base else "     -"
        print(f"{name:11s} {best[name]:7.1f} {speedup} {cos.mean():9.5f} {cos.min():8.5f}")


if __name__ == "__main__":
    main()
