#!/usr/bin/env python3
"""Checker for the fresh5 annotation split (stdlib only)."""
import json, re, sys, collections, os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import (  # noqa: E402  (one report split and schema for every checker)
    ABSENT_FIELDS as ABS_FIELDS, QUESTION_KINDS as KINDS, SINGLE_FIELDS as SGL_FIELDS, TRAPS, combos_before, report_texts)

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "eval")
SPLIT = "fresh5"
CITIES = "彬州市 高安市 邯郸市 河源市 金华市 乐昌市 临沧市 龙南市 泸州市 茂名市 梅州市 南宁市".split()
# synonyms used both for tuple normalisation and for printing the wordings of an indicator
WORDS = {
    "地区生产总值": ["地区生产总值", "生产总值", "GDP"],
    "一般公共预算收入": ["一般公共预算收入", "预算收入", "财政收入", "财力"],
    "社会消费品零售总额": ["社会消费品零售总额", "社零", "消费品零售", "零售额"],
    "进出口总额": ["进出口", "外贸"],
    "出口总额": ["出口"],
    "固定资产投资": ["固定资产投资", "投资增长", "完成投资", "投资"],
    "规模以上工业增加值": ["工业增加值", "规上工业", "规模以上工业"],
    "实际使用外资": ["外资", "外商直接投资", "FDI"],
    "全体居民人均可支配收入": ["可支配收入", "居民收入"],
    "城镇居民人均可支配收入": ["可支配收入", "居民收入", "城镇居民", "城镇常住居民"],
    "农村居民人均可支配收入": ["可支配收入", "居民收入", "农村居民", "农民", "纯收入", "农村常住居民"],
    "粮食总产量": ["粮食", "产量"],
    "城镇新增就业": ["就业"],
    "城镇调查失业率": ["失业"],
    "居民消费价格涨幅": ["消费价格", "CPI", "物价"],
    "单位GDP能耗": ["能耗", "节能", "能源消费", "降碳"],
    "研发经费投入强度": ["研发", "R&D", "研究与试验发展"],
    "研发经费投入": ["研发", "R&D", "研究与试验发展"],
    "旅游收入": ["旅游收入", "旅游总收入", "旅游综合收入", "旅游"],
    "接待游客": ["游客", "旅游人次", "旅游者"],
    "税收收入": ["税收"],
    "金融机构存款余额": ["存款", "存贷"],
    "金融机构贷款余额": ["贷款", "存贷"],
    "民生支出": ["民生", "财力"],
    "高新技术企业": ["高新技术企业", "高企"],
    "农业总产值": ["农业总产值", "农林牧渔"],
}
CANON = {"旅游总收入": "旅游收入", "居民人均可支配收入": "全体居民人均可支配收入",
         "居民消费价格": "居民消费价格涨幅", "研发经费投入": "研发经费投入",
         "招商引资到位资金": "招商引资", "外贸进出口总额": "进出口总额"}

def canon(ind):
    return CANON.get(ind, ind)

def main():
    verbose = "-q" not in sys.argv
    errs = []
    rep = {c: (0, t.split("\n")) for c, t in report_texts().items()}
    used = {(c, canon(ind), per, kind) for c, ind, per, kind in combos_before(SPLIT)}
    ids, tuples = set(), {}
    recs = []
    for fn, fields, typ, pref in [(f"facts_{SPLIT}_absent.jsonl", ABS_FIELDS, "absent", "abs5-"),
                                  (f"facts_{SPLIT}_single.jsonl", SGL_FIELDS, "single", "sgl5-")]:
        path = os.path.join(HERE, fn)
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            if not line.strip():
                errs.append(f"{fn}:{n} empty line"); continue
            d = json.loads(line)
            recs.append((fn, n, d))
            if list(d.keys()) != fields:
                errs.append(f"{fn}:{n} field order {list(d.keys())}")
            if d.get("type") != typ or d.get("split") != SPLIT:
                errs.append(f"{fn}:{n} type/split")
            if not re.fullmatch(pref + r"\d{3}", d["id"]) or int(d["id"][-3:]) != n:
                errs.append(f"{fn}:{n} bad id {d['id']}")
            if d["id"] in ids:
                errs.append(f"{fn}:{n} duplicate id {d['id']}")
            ids.add(d["id"])
            if d["city"] not in CITIES:
                errs.append(f"{fn}:{n} city not allowed {d['city']}")
            if d["period"] not in ("2022", "2023") or d["kind"] not in KINDS:
                errs.append(f"{fn}:{n} period/kind")
            text = "\n".join(rep[d["city"]][1]) if d["city"] in rep else ""
            t = (d["city"], canon(d["indicator"]), d["period"], d["kind"])
            if t in used:
                errs.append(f"{fn}:{n} tuple reused from an earlier set: {t}")
            if t in tuples:
                errs.append(f"{fn}:{n} tuple duplicated in this split: {t} (also {tuples[t]})")
            tuples[t] = d["id"]
            if typ == "absent":
                if d["answer_keys"] != []:
                    errs.append(f"{fn}:{n} absent answer_keys not empty")
                if d["trap"] not in TRAPS:
                    errs.append(f"{fn}:{n} bad trap")
                if d["related"] not in text:
                    errs.append(f"{fn}:{n} related not in {d['city']} report: {d['related']}")
                # the related string must not occur in another city's report only
            else:
                if d["evidence"] not in text:
                    errs.append(f"{fn}:{n} evidence not in {d['city']} report: {d['evidence']}")
                if not d["answer_keys"]:
                    errs.append(f"{fn}:{n} no answer keys")
                for k in d["answer_keys"]:
                    if k not in d["evidence"]:
                        errs.append(f"{fn}:{n} answer key {k} not in evidence")
                if text.count(d["evidence"]) != 1:
                    print(f"note {d['id']}: evidence occurs {text.count(d['evidence'])}x in report")
    # distribution constraints
    ab = [d for _, _, d in recs if d["type"] == "absent"]
    sg = [d for _, _, d in recs if d["type"] == "single"]
    cab = collections.Counter(d["city"] for d in ab)
    csg = collections.Counter(d["city"] for d in sg)
    if len(ab) != 30: errs.append(f"absent count {len(ab)} != 30")
    if len(sg) != 20: errs.append(f"single count {len(sg)} != 20")
    if set(cab) != set(CITIES): errs.append(f"absent cities missing: {set(CITIES) - set(cab)}")
    if max(cab.values()) > 3: errs.append(f"more than 3 absent for a city: {cab}")
    if len(csg) < 10: errs.append(f"single covers only {len(csg)} cities")
    print("absent by trap:", dict(collections.Counter(d["trap"] for d in ab)))
    print("absent by kind:", dict(collections.Counter(d["kind"] for d in ab)))
    print("absent by period:", dict(collections.Counter(d["period"] for d in ab)))
    print("absent by city:", dict(cab))
    print("single by kind:", dict(collections.Counter(d["kind"] for d in sg)))
    print("single by period:", dict(collections.Counter(d["period"] for d in sg)))
    print("single by city:", dict(csg))
    if verbose:
        for d in ab:
            start, lines = rep[d["city"]]
            words = WORDS.get(d["indicator"], [d["indicator"]])
            print(f"\n=== {d['id']} {d['city']} {d['indicator']} {d['period']} {d['kind']} [{d['trap']}] {d['question']}")
            print(f"    related: {d['related']}")
            for li, l in enumerate(lines):
                hits = [m.start() for w in words for m in re.finditer(re.escape(w), l)]
                if not hits:
                    continue
                spans = []
                for h in sorted(hits):
                    a, b = max(0, h - 60), min(len(l), h + 70)
                    if spans and a <= spans[-1][1]:
                        spans[-1][1] = b
                    else:
                        spans.append([a, b])
                for a, b in spans:
                    print(f"  L{start + li + 1}: …{l[a:b]}…")
    if errs:
        print("\nFAIL"); [print("  " + e) for e in errs]; sys.exit(1)
    print("\nPASS")

if __name__ == "__main__":
    main()
