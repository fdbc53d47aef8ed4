"""Timings of report facts (issue 13): extraction over the bundled reports (what it adds to a cold
build), storing/reading the facts table, and answer_from_facts per question.

    python scripts/facts_bench.py [--repeat 200]

Prints numbers; speed targets live here, not in timed tests (≤ 5 s added to a cold build,
≤ 10 ms per question)."""
from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPORTS = Path(__file__).resolve().parent.parent / "data" / "reports" / "2023_city_reports.txt"

QUESTIONS = [
    ("彬州2022年经济增速是多少？", ("彬州市",)),
    ("渭南2022年粮食总产量是多少？", ("渭南市",)),
    ("沁阳、南宁、商洛三个城市里，哪个2022年粮食产量最高？", ("沁阳市", "南宁市", "商洛市")),
    ("高安和临沧2022年社会消费品零售总额分别是多少？", ("高安市", "临沧市")),
    ("梅州、汕尾、温州这三个市，2022年谁的地区生产总值最大？", ("梅州市", "汕尾市", "温州市")),
    ("哪个城市2022年GDP增速最高？", ()),
    ("2023年GDP增速目标排名前三的城市是哪些？", ()),
    ("资兴2022年城镇新增就业多少人？", ("资兴市",)),
    ("商洛老百姓收入增长了多少？", ("商洛市",)),
    ("各市今年财政收入目标从高到低排一下", ()),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args(argv)
    flags = subprocess.run("lscpu | grep -o -E 'avx512_bf16|avx512f|avx2|amx_bf16' | sort -u | tr '\\n' ' '",
                           shell=True, capture_output=True, text=True).stdout.strip()
    print(f"cpu flags: {flags or '(none)'}")

    t0 = time.perf_counter()
    import qa  # the package (langchain, faiss...): already loaded in a build, so not counted below
    t_package = time.perf_counter() - t0
    t0 = time.perf_counter()
    from qa.chunking import chunk_document
    from qa.facts import answer_from_facts, build_query, extract_facts, load_registry, read_facts, write_facts
    from qa.ingest import read_file
    load_registry()
    t_import = time.perf_counter() - t0

    docs = read_file(REPORTS)
    passages = {d.doc_id: chunk_document(d) for d in docs}  # the build has these already
    t0 = time.perf_counter()
    facts = [f for d in docs for f in extract_facts(d, passages[d.doc_id])]
    t_extract = time.perf_counter() - t0
    print(f"import qa (package, not counted): {t_package:.2f} s; import qa.facts + registry: {t_import:.3f} s")
    print(f"extract_facts over {len(docs)} reports (first run, cold regexes): "
          f"{t_extract:.3f} s -> {len(facts)} facts, {sum(f.headline for f in facts)} headline")

    conn = sqlite3.connect(":memory:")
    t0 = time.perf_counter()
    write_facts(conn, facts)
    conn.commit()
    t_write = time.perf_counter() - t0
    t0 = time.perf_counter()
    back = read_facts(conn)
    t_read = time.perf_counter() - t0
    assert back == facts
    print(f"write_facts: {t_write * 1000:.1f} ms; read_facts: {t_read * 1000:.1f} ms")
    print(f"added to a cold build (qa.facts import + extract + write): {t_import + t_extract + t_write:.2f} s (target ≤ 5 s)")

    times, cpu = [], []
    for _ in range(args.repeat):
        for question, cities in QUESTIONS:
            t0, c0 = time.perf_counter(), time.thread_time()
            query = build_query(question, cities)
            answer_from_facts(query, back)
            times.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
    for name, xs in (("wall", times), ("thread CPU", cpu)):
        xs.sort()
        p95 = xs[int(0.95 * (len(xs) - 1))]
        print(f"question -> FactQuery -> answer_from_facts over {len(back)} facts, {name}: p50 {statistics.median(xs) * 1000:.2f} ms, "
              f"p95 {p95 * 1000:.2f} ms, max {xs[-1] * 1000:.2f} ms ({len(xs)} calls; target ≤ 10 ms)")
    print(f"load average: {' '.join(f'{x:.1f}' for x in __import__('os').getloadavg())} (wall times include waiting for a core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
