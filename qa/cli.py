"""Command line: `python -m qa index|search|ask|facts|eval|bench|serve`."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from .config import WebConfig


@contextmanager
def progress_bar(desc: str):
    """A tqdm bar driven by the (fraction, message) progress callbacks of the library."""
    bar = tqdm(total=100, desc=desc, unit="%", file=sys.stderr, bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")
    def update(fraction: float, message: str) -> None:
        bar.n = round(fraction * 100)
        bar.set_postfix_str(message, refresh=True)
    try:
        yield update
    finally:
        bar.close()


def cmd_index(args) -> int:
    from .config import from_env
    from .index import build
    from .pipeline import check_is_kb, forget_kb, kb_root

    root = kb_root(args.kb)
    sources = [Path(s) for s in args.paths] or None
    for s in sources or []:
        if not s.exists():
            print(f"错误：{s} 不存在", file=sys.stderr)
            return 2
    if sources is None:
        check_is_kb(root, from_env())  # rebuilding: a mistyped --kb must not create a new knowledge base
    with progress_bar("indexing") as update:
        kb, errors = build(root, sources=sources, progress=update, use_shipped=not args.no_shipped_vectors)
    forget_kb(root)
    for name, reason in errors:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    m = kb.manifest
    print(f"{root}: {m.documents} documents, {m.passages} passages, {m.embedded_now} embedded now, "
          f"{m.build_seconds} s ({m.faiss_index}, {m.embed_model}, {m.embed_backend})")
    return 0


def _print_passage(i: int, p, show_score: bool = True) -> None:
    score = f"{p.score:.4f}  " if show_score else ""
    print(f"[{i}] {score}{p.title}  §{p.section or '-'}  ({p.start}-{p.end})")
    print(f"    {p.text}")


def cmd_search(args) -> int:
    from .pipeline import retrieve

    passages = retrieve(args.question, k=args.k, city=args.city, kb_dir=args.kb)
    if args.json:
        print(json.dumps([p.to_dict() for p in passages], ensure_ascii=False, indent=1))
        return 0
    for i, p in enumerate(passages, 1):
        _print_passage(i, p)
    return 0


def cmd_ask(args) -> int:
    from .answer import ask

    ans = ask(args.question, k=args.k, city=args.city, kb_dir=args.kb, mode=args.mode)
    if args.json:
        print(json.dumps(ans.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print(ans.text)
    if ans.note:
        print(f"({ans.note})")
    for label, passages in (("来源", [c.passage for c in ans.citations]), ("相关段落", ans.related)):
        if passages:
            print(f"\n{label}:")
            for i, p in enumerate(passages, 1):
                _print_passage(i, p, show_score=False)
    return 0


FACT_COLUMNS = ("city", "indicator", "period", "kind", "value", "unit", "qualifiers", "wording", "doc_id", "start", "end")


def cmd_facts(args) -> int:
    import csv

    from .pipeline import facts

    rows = [{**{c: getattr(f, c) for c in FACT_COLUMNS}, "qualifiers": "、".join(f.qualifiers),
             "value": ("-" if f.direction == "down" else "") + f"{f.value:g}"}
            for f in facts(args.indicator, args.city, args.period, kb_dir=args.kb)]
    if args.csv:
        with open(args.csv, "w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel reads it as UTF-8
            writer = csv.DictWriter(fh, FACT_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        print(f"{len(rows)} 条写入 {args.csv}")
        return 0
    for r in rows:
        print(f"{r['city'] or '-':6} {r['indicator']:12} {r['period']:5} {r['kind']:6} {r['value']:>10} {r['unit']:8} "
              f"{r['qualifiers']:8} 「{r['wording']}」")
    print(f"共 {len(rows)} 条")
    return 0


def cmd_eval(args) -> int:
    from .evaluate import run_eval

    client = None
    if args.via_api:
        from .client import ApiClient

        client = ApiClient(args.via_api)
    return run_eval(Path(args.file), kb_dir=args.kb, with_answers=not args.retrieval_only, show_misses=args.misses,
                    as_json=args.json, mode=args.mode, limit=args.limit, client=client, baseline=args.baseline,
                    cold=args.cold)


def cmd_bench(args) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def cmd_serve(args) -> int:
    from .config import from_env
    from .web.server import serve

    return serve(args.host, args.port, kb_dir=args.kb, config=from_env())


def build_parser() -> argparse.ArgumentParser:
    """Every command and its options (`python -m qa --help`)."""
    parser = argparse.ArgumentParser(prog="python -m qa", description="Question answering over government work reports")
    parser.add_argument("--kb", help="knowledge-base folder (default: $QA_KB_DIR or the bundled reports' index)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="(re)build a knowledge base from folders/files")
    p.add_argument("paths", nargs="*", help="files or folders (default: the knowledge base's configured sources)")
    p.add_argument("--no-shipped-vectors", action="store_true",
                   help="embed the bundled reports too instead of taking their shipped vectors (to measure a backend)")
    p.set_defaults(func=cmd_index)

    for name, func, helptext in (("search", cmd_search, "print the ranked passages for a question"),
                                 ("ask", cmd_ask, "answer a question with cited passages")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("question")
        p.add_argument("-k", type=int, default=None if name == "ask" else 5,
                       help="passages to retrieve (ask: to read; default 6)")
        p.add_argument("--city", help="only this city's report, e.g. 彬州市")
        p.add_argument("--json", action="store_true")
        if name == "ask":
            p.add_argument("--mode", choices=["auto", "extractive", "llm"], default="auto")
        p.set_defaults(func=func)

    p = sub.add_parser("eval", help="retrieval and answer metrics on a question file (dev.jsonl format)")
    p.add_argument("file")
    p.add_argument("--retrieval-only", action="store_true")
    p.add_argument("--misses", action="store_true", help="list every miss")
    p.add_argument("--mode", choices=["extractive", "llm"], default="extractive", help="answer mode (llm needs QA_LLM)")
    p.add_argument("--limit", type=int, help="only the first N items")
    p.add_argument("--json", action="store_true")
    p.add_argument("--via-api", metavar="URL", help="ask a running server's API (e.g. http://127.0.0.1:7860) "
                   "instead of answering in this process; QA_API_KEY is sent as the key")
    p.add_argument("--baseline", action="store_true",
                   help="CMRC-style sets: also run the plain LangChain recipe (splitter -> FAISS) on the same corpus")
    p.add_argument("--cold", action="store_true",
                   help="CMRC-style sets: rebuild the knowledge base from an empty embedding cache (fair build time)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("facts", help="the statistics the reports state (a table, or CSV)")
    p.add_argument("--indicator", help="e.g. 生产总值增速, 社零, 粮食产量 (any wording)")
    p.add_argument("--city", help="e.g. 铜川 or 铜川市")
    p.add_argument("--period", help="2022 (last year's actual), 2023 (this year's target) or 五年")
    p.add_argument("--csv", help="write the table to this CSV file")
    p.set_defaults(func=cmd_facts)

    p = sub.add_parser("bench", help="build time, load time, latency and memory of the default pipeline")
    p.add_argument("--cold", action="store_true", help="also time a cold build (embeds the whole corpus again)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("serve", help="serve the chat page and the OpenAI-compatible API (same as python app.py)")
    p.add_argument("--host", default=WebConfig.host, help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=WebConfig.port)
    p.add_argument("--kb", default=argparse.SUPPRESS, help="knowledge-base folder (default $QA_KB_DIR or kb/default)")
    p.set_defaults(func=cmd_serve)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    from .errors import QAError

    try:
        return args.func(args)
    except (QAError, FileNotFoundError, ValueError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
