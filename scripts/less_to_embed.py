"""Does every report sentence need its own vector? (issue 15, item 3)

    python scripts/less_to_embed.py [--variants sentence,merge15,pairs] [--sample 200]

For each way of cutting report passages into embedding units it prints, side by side in one run:
how many texts and tokens the bundled reports give, the time to embed the units of a fixed sample
of passages with the default backend, and retrieval and answers on dev, semantic_extra and
howto_extra from a knowledge base built that way (in /tmp; units whose text is unchanged reuse the
shipped vectors, the others are embedded).

- sentence: one unit per sentence (today);
- merge15: a sentence shorter than 15 characters (a heading, 「各位代表：」) is joined to the next one;
- pairs: two consecutive sentences per unit (half the vectors).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import index as qa_index  # noqa: E402
from qa.chunking import chunk_document, sentence_embedding_text  # noqa: E402
from qa.kinds import GENERIC, embedding_units  # noqa: E402
from qa.text import split_sentences  # noqa: E402

SETS = ("dev", "semantic_extra", "howto_extra")


def grouped(spans: list[tuple[int, int]], variant: str) -> list[tuple[int, int]]:
    if variant == "pairs":
        return [(spans[i][0], spans[min(i + 1, len(spans) - 1)][1]) for i in range(0, len(spans), 2)]
    short = int(variant.removeprefix("merge"))
    out, start = [], None
    for a, b in spans:
        start = a if start is None else start
        if b - a >= short:
            out.append((start, b))
            start = None
    if start is not None:  # trailing short sentences join the last unit
        out[-1:] = [(out[-1][0] if out else start, spans[-1][1])]
    return out


def units_for(variant: str):
    if variant == "sentence":
        return embedding_units

    def units(passages):
        rows, texts = [], []
        for row, p in enumerate(passages):
            if p.kind == GENERIC:
                r, t = embedding_units([p])
                rows += [(row, a, b) for _, a, b in r]
                texts += t
                continue
            for a, b in grouped(split_sentences(p.text), variant):
                rows.append((row, p.start + a, p.start + b))
                texts.append(sentence_embedding_text(p, p.text[a:b]))
        return rows, texts
    return units


def run_variant(variant: str, sample: int) -> dict:
    from embeddings import load_embedder
    from qa.ingest import load_documents

    qa_index.embedding_units = units_for(variant)
    docs = load_documents([qa_index.DEFAULT_DATA_DIR]).documents
    passages = [p for d in docs for p in chunk_document(d)]
    _, texts = qa_index.embedding_units(passages)
    embedder = load_embedder()
    tokenizer = embedder.model.tokenizer
    tokens = sum(len(ids) for ids in tokenizer(["query: " + t for t in texts])["input_ids"])
    chosen = random.Random(0).sample(range(len(passages)), sample)
    _, sample_texts = qa_index.embedding_units([passages[i] for i in chosen])
    embedder.embed_passages(sample_texts[:32])
    t0 = time.perf_counter()
    embedder.embed_passages(sorted(sample_texts, key=len))
    seconds = time.perf_counter() - t0
    kb = Path(tempfile.gettempdir()) / f"qa-lte-{variant}"
    t0 = time.perf_counter()
    qa_index.build(kb, [qa_index.DEFAULT_DATA_DIR], embedder)
    out = {"variant": variant, "texts": len(texts), "tokens": tokens, "sample_texts": len(sample_texts),
           "sample_embed_s": round(seconds, 2), "build_s": round(time.perf_counter() - t0, 1),
           "backend": embedder.cache_key.split("|", 1)[1]}
    return out


def summary(variant: str) -> dict:
    """Retrieval and answers of one variant's knowledge base (a child process per set: clean state)."""
    kb = Path(tempfile.gettempdir()) / f"qa-lte-{variant}"
    out = {}
    for name in SETS:
        res = subprocess.run([sys.executable, "-m", "qa", "--kb", str(kb), "eval", f"eval/{name}.jsonl", "--json"],
                             capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        data = json.loads(res.stdout)
        r, a = data["retrieval"]["overall"], data["answers"]
        out[name] = f"{r['hit@1']:.3f} / {r['hit@5']:.3f} / {r['mrr@10']:.3f}; {a['answer_accuracy']:.3f}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="sentence,merge15,pairs")
    ap.add_argument("--sample", type=int, default=200, help="passages whose units are timed")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_variant(args.one, args.sample)))
        return
    flags = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    print("cpu flags:", " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f" {f} " in f" {flags} ".replace("\n", " ")),
          "| load", os.getloadavg())
    for variant in args.variants.split(","):
        res = subprocess.run([sys.executable, __file__, "--one", variant, "--sample", str(args.sample)],
                             capture_output=True, text=True, cwd=ROOT)
        if res.returncode:
            sys.exit(res.stderr[-2000:])
        row = json.loads(res.stdout.strip().splitlines()[-1])
        row.update(summary(variant))
        print(json.dumps(row, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
