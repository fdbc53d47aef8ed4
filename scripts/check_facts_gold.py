"""Check eval/facts_gold.jsonl and eval/facts_gold_absent.jsonl against the report text.

Standalone (does not import `qa`, so the gold stays independent of the system):
    python scripts/check_facts_gold.py
Prints per-report and per-split counts; exits 1 with a list of problems if any line fails.
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "data" / "reports" / "2023_city_reports.txt"
GOLD = ROOT / "eval" / "facts_gold.jsonl"
ABSENT = ROOT / "eval" / "facts_gold_absent.jsonl"
TITLE_RE = re.compile(r"^\s*2023年(?P<city>[\u4e00-\u9fff]{1,12}?市)(?:人民)?政府工作报告\s*$")
HOLDOUT = {"泉州市", "忻州市", "珠海市"}
PERIODS = {"2022", "2023", "五年"}

# The canonical indicator table of issue 13: name -> (allowed kinds, wordings to search for).
INDICATORS: dict[str, tuple[set[str], list[str]]] = {
    "地区生产总值": ({"amount", "growth"}, ["生产总值", "GDP", "经济总量", "经济增速"]),
    "第一产业增加值": ({"amount", "growth"}, ["第一产业", "农业增加值", "农林牧渔业增加值"]),
    "第二产业增加值": ({"amount", "growth"}, ["第二产业"]),
    "第三产业增加值": ({"amount", "growth"}, ["第三产业", "服务业增加值"]),
    "规模以上工业增加值": ({"amount", "growth"}, ["工业增加值"]),
    "规模以上工业总产值": ({"amount", "growth"}, ["工业总产值", "工业产值"]),
    "固定资产投资": ({"amount", "growth"}, ["固定资产投资"]),
    "社会消费品零售总额": ({"amount", "growth"}, ["社会消费品", "社零", "消费品零售"]),
    "进出口总额": ({"amount", "growth"}, ["进出口", "外贸"]),
    "出口总额": ({"amount", "growth"}, ["出口"]),
    "实际使用外资": ({"amount", "growth"}, ["使用外资", "利用外资", "外资"]),
    "一般公共预算收入": ({"amount", "growth"}, ["一般公共预算收入", "财政收入"]),
    "财政总收入": ({"amount", "growth"}, ["财政总收入", "预算总收入"]),
    "税收收入": ({"amount", "growth", "share"}, ["税收"]),
    "一般公共预算支出": ({"amount", "growth"}, ["一般公共预算支出", "财政支出"]),
    "民生支出": ({"amount", "share"}, ["民生支出", "民生资金", "投入民生"]),
    "城镇居民人均可支配收入": ({"amount", "growth"}, ["城镇居民", "城乡居民人均可支配收入", "城乡居民收入"]),
    "农村居民人均可支配收入": ({"amount", "growth"}, ["农村居民", "农民收入", "城乡居民人均可支配收入", "城乡居民收入"]),
    "居民人均可支配收入": ({"amount", "growth"}, ["居民人均可支配收入", "全体居民", "老百姓收入"]),
    "城镇新增就业": ({"count"}, ["新增就业", "新增城镇就业"]),
    "城镇调查失业率": ({"share"}, ["失业率"]),
    "居民消费价格涨幅": ({"growth"}, ["居民消费价格", "CPI", "物价"]),
    "粮食总产量": ({"amount", "growth"}, ["粮食产量", "粮食总产", "产量"]),
    "粮食播种面积": ({"amount"}, ["播种面积", "种植面积", "粮食面积"]),
    "研发经费投入强度": ({"share"}, ["研发投入强度", "R&D", "研发经费投入强度", "研发投入占", "研发经费"]),
    "研发经费投入": ({"amount", "growth"}, ["研发经费", "R&D", "研发投入"]),
    "高新技术企业": ({"count"}, ["高新技术企业", "高企"]),
    "单位地区生产总值能耗": ({"growth"}, ["能耗"]),
    "空气质量优良天数": ({"count", "share"}, ["优良天数", "优良率", "空气质量优良"]),
    "PM2.5平均浓度": ({"amount", "growth"}, ["PM2.5", "细颗粒物"]),
    "常住人口城镇化率": ({"share"}, ["城镇化率"]),
    "常住人口": ({"amount"}, ["常住人口"]),
    "招商引资到位资金": ({"amount", "growth"}, ["到位资金", "引进资金", "内资"]),
    "旅游总收入": ({"amount", "growth"}, ["旅游收入", "旅游总收入", "旅游综合收入"]),
    "接待游客": ({"amount", "growth"}, ["游客", "接待旅游"]),
    "金融机构本外币存款余额": ({"amount", "growth"}, ["存款", "存贷款"]),
    "金融机构本外币贷款余额": ({"amount", "growth"}, ["贷款余额", "存贷款"]),
    "市场主体": ({"count"}, ["市场主体"]),
    "规模以上工业企业": ({"count"}, ["规上工业企业", "规模以上工业企业", "规上企业", "上规"]),
}
# Canonical qualifier -> the surface forms that may stand for it in the evidence.
QUALIFIERS = {
    "左右": ["左右"], "以上": ["以上"], "以内": ["以内"], "力争": ["力争"], "同口径": ["同口径"],
    "可比价": ["可比价", "可比"], "累计": ["累计"], "年均": ["年均"], "超过": ["超过", "超", "突破"],
    "接近": ["接近"],
}
GOLD_KEYS = ["city", "indicator", "period", "kind", "value", "unit", "direction", "qualifiers",
             "wording", "evidence", "split"]


def report_texts(path: Path = REPORTS) -> dict[str, str]:
    """City -> that report's raw text (from its title line to the next title line)."""
    texts: dict[str, list[str]] = {}
    city = None
    for line in path.read_text(encoding="utf-8").split("\n"):
        m = TITLE_RE.match(line)
        if m:
            city = m.group("city")
            texts[city] = []
        if city:
            texts[city].append(line)
    return {c: "\n".join(lines) for c, lines in texts.items()}


def read_jsonl(path) -> tuple[list[dict], list[str]]:
    """The records of a JSONL file, and an error for each line that is not JSON."""
    rows, errors = [], []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                errors.append(f"line {n}: bad JSON {e}")
    return rows, errors


def earlier_combos(names: list[str]) -> set[tuple]:
    """(city, indicator, period, kind) of the question sets named: a fresh question must not repeat one."""
    combos = set()
    for name in names:
        for line in (ROOT / "eval" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                combos.add((r.get("city"), r.get("indicator"), r.get("period"), r.get("kind")))
    return combos


# The fact question sets written before the fifth round, then the rounds of two sets written side by side
# (by annotators given different cities): an annotator was shown every set of the earlier rounds.
WRITTEN_BEFORE_FRESH5 = ["facts_gold", "facts_gold_absent", "facts_single", "facts_compare", "facts_absent",
                         "facts_fresh_single", "facts_fresh_compare", "facts_fresh_absent", "facts_fresh2_absent",
                         "facts_fresh3_absent", "facts_fresh3_single", "facts_fresh4_absent", "facts_fresh4_single"]
ROUNDS = [("fresh5", "fresh6"), ("fresh7", "fresh8"), ("fresh9", "fresh10"), ("fresh11", "fresh12"), ("fresh13", "fresh14"), ("fresh15", "fresh16")]


# The fields of the fifth to tenth rounds' questions, in order, and their values.
ABSENT_FIELDS = ["id", "type", "question", "city", "indicator", "period", "kind", "related", "answer_keys", "split", "trap"]
SINGLE_FIELDS = ["id", "type", "question", "city", "indicator", "period", "kind", "answer_keys", "evidence", "split"]
TRAPS = {"other kind", "other period", "sub-item", "no number", "relative"}
QUESTION_KINDS = {"amount", "growth", "share", "count"}


def combos_before(split: str) -> set[tuple]:
    """earlier_combos of every set written before split's round (split: "fresh5" … "fresh16")."""
    done = next(i for i, r in enumerate(ROUNDS) if split in r)
    later = [f"facts_{s}_{part}" for r in ROUNDS[:done] for s in r for part in ("absent", "single")]
    return earlier_combos(WRITTEN_BEFORE_FRESH5 + later)


def value_forms(value: float) -> list[str]:
    """How a value may be written: 3.0 as 「3.0」, 7 as 「7」, 1 万亿 as 「万亿」 (no digit)."""
    forms = [repr(value)] if isinstance(value, float) else [str(value)]
    if isinstance(value, float) and value.is_integer():
        forms.append(str(int(value)))
    return forms


def check_gold_line(d: dict, texts: dict[str, str]) -> list[str]:
    errs = []
    missing = [k for k in GOLD_KEYS if k not in d]
    if missing:
        return [f"missing keys {missing}"]
    text = texts.get(d["city"])
    if text is None:
        return [f"no report for {d['city']}"]
    kinds, _ = INDICATORS.get(d["indicator"], (None, None))
    if kinds is None:
        errs.append(f"indicator not canonical: {d['indicator']}")
    elif d["kind"] not in kinds:
        errs.append(f"kind {d['kind']} not allowed for {d['indicator']}")
    if d["period"] not in PERIODS:
        errs.append(f"bad period {d['period']}")
    ev = d["evidence"]
    if ev not in text:
        errs.append("evidence not in report text")
    if re.search(r"\s|\[\d+\]", ev):
        errs.append("evidence holds a space or a footnote marker (the cleaned text drops these)")
    if d["wording"] not in ev:
        errs.append("wording not in evidence")
    unit_implies_one = d["value"] == 1 and d["unit"].startswith("万亿") and "万亿" in ev
    if not unit_implies_one and not any(f in ev for f in value_forms(d["value"])):
        errs.append(f"value {d['value']} not in evidence")
    if "value_max" in d and not any(f in ev for f in value_forms(d["value_max"])):
        errs.append("value_max not in evidence")
    if d["kind"] == "growth":
        if d["direction"] not in ("up", "down"):
            errs.append("growth needs direction up/down")
        elif (d["direction"] == "down") != ("下降" in ev and d["indicator"] != "居民消费价格涨幅"):
            errs.append("direction disagrees with 下降 in evidence")
    elif d["direction"] is not None:
        errs.append("direction must be null unless kind is growth")
    for q in d["qualifiers"]:
        forms = QUALIFIERS.get(q) or ([q] if re.fullmatch(r"扣除.+因素", q) else None)
        if forms is None:
            errs.append(f"unknown qualifier {q}")
        elif not any(f in ev for f in forms):
            errs.append(f"qualifier {q} not in evidence")
    want = "holdout" if d["city"] in HOLDOUT else "dev"
    if d["split"] != want:
        errs.append(f"split should be {want}")
    return errs


def check_absent_line(a: dict, texts: dict[str, str], gold: list[dict]) -> list[str]:
    errs = []
    if a.get("period") != "2022":
        errs.append("absent lines are about 2022")
    if a["indicator"] not in INDICATORS:
        return errs + [f"indicator not canonical: {a['indicator']}"]
    if a["kind"] not in INDICATORS[a["indicator"]][0]:
        errs.append(f"kind {a['kind']} not allowed")
    if any(g["city"] == a["city"] and g["indicator"] == a["indicator"] and g["period"] == "2022"
           for g in gold):
        errs.append("the gold states this indicator for 2022")
    if a["split"] != ("holdout" if a["city"] in HOLDOUT else "dev"):
        errs.append("bad split")
    return errs


def wording_hits(a: dict, text: str) -> list[str]:
    """Snippets where a wording of an absent indicator occurs (for a person to read)."""
    hits = []
    for w in INDICATORS[a["indicator"]][1]:
        for m in re.finditer(re.escape(w), text):
            hits.append(text[max(0, m.start() - 12): m.end() + 18].replace("\n", " "))
    return hits


def main() -> int:
    texts = report_texts()
    gold = [json.loads(x) for x in GOLD.read_text(encoding="utf-8").splitlines() if x.strip()]
    absent = [json.loads(x) for x in ABSENT.read_text(encoding="utf-8").splitlines() if x.strip()]
    problems = []
    for i, d in enumerate(gold, 1):
        problems += [f"gold line {i} ({d.get('city')} {d.get('indicator')}): {e}" for e in check_gold_line(d, texts)]
    keys = Counter(json.dumps(d, ensure_ascii=False, sort_keys=True) for d in gold)
    problems += [f"duplicate gold line: {k}" for k, n in keys.items() if n > 1]
    for i, a in enumerate(absent, 1):
        problems += [f"absent line {i} ({a.get('city')} {a.get('indicator')}): {e}"
                     for e in check_absent_line(a, texts, gold)]
    print("gold lines per report:", dict(Counter(d["city"] for d in gold)))
    print("gold lines per split:", dict(Counter(d["split"] for d in gold)))
    print("gold lines per period:", dict(Counter(d["period"] for d in gold)))
    print("absent lines per report:", dict(Counter(a["city"] for a in absent)))
    print("absent lines per split:", dict(Counter(a["split"] for a in absent)))
    if "-v" in sys.argv:  # show where an absent indicator's wordings occur, to re-read by hand
        for a in absent:
            print(a["city"], a["indicator"], wording_hits(a, texts[a["city"]]) or "(no wording in text)")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
