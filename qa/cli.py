"""Command line: `python -m qa index|search|ask|eval|bench`."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm


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
        kb, errors = build(root, sources=sources, progress=update)
    forget_kb(root)
    for name, reason in errors:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    m = kb.manifest
    print(f"{root}: {m.documents} documents, {m.passages} passages, {m.embedded_now} embedded now, "
          f"{m.build_seconds} s ({m.faiss_index}, {m.embed_model})")
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


def cmd_eval(args) -> int:
    from .evaluate import run_eval

    return run_eval(Path(args.file), kb_dir=args.kb, with_answers=not args.retrieval_only, show_misses=args.misses,
                    as_json=args.json, mode=args.mode, limit=args.limit)


def cmd_bench(args) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa", description="Question answering over government work reports")
    parser.add_argument("--kb", help="knowledge-base folder (default: $QA_KB_DIR or the bundled reports' index)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="(re)build a knowledge base from folders/files")
    p.add_argument("paths", nargs="*", help="files or folders (default: the knowledge base's configured sources)")
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
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="build time, load time, latency and memory of the default pipeline")
    p.add_argument("--cold", action="store_true", help="also time a cold build (embeds the whole corpus again)")
    p.set_defaults(func=cmd_bench)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    from .errors import QAError

    try:
        return args.func(args)
    except (QAError, FileNotFoundError, ValueError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
