#!/usr/bin/env python3
"""Checker for fresh9 question files (stdlib only)."""
import json, re, sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import (  # noqa: E402  (one report split and schema for every checker)
    ABSENT_FIELDS as A_FIELDS, QUESTION_KINDS as KINDS, SINGLE_FIELDS as S_FIELDS, TRAPS, combos_before, report_texts)
HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "eval")
SPLIT = "fresh9"
CITIES = set("彬州市 高安市 邯郸市 河源市 金华市 乐昌市 临沧市 龙南市 泸州市 茂名市 梅州市 南宁市".split())
# aliases seen in the earlier sets, mapped to one name so reuse is caught
ALIAS = {"旅游总收入":"旅游收入","居民人均可支配收入":"全体居民人均可支配收入","空气质量优良天数":"空气优良天数",
         "规模以上工业企业":"规上工业企业数"}
WORDS = {
 "规模以上工业增加值":["规上工业","规模以上工业","工业增加值","工业产值"],
 "固定资产投资":["固定资产投资","完成投资","投资"],
 "接待游客":["游客","接待","旅游人次","人次"],
 "出口总额":["出口"],
 "进出口总额":["进出口","外贸"],
 "金融机构贷款余额":["贷款","存贷","贷存"],
 "金融机构存款余额":["存款","存贷","贷存"],
 "实际使用外资":["外资","外商"],
 "城镇居民人均可支配收入":["可支配收入","居民收入"],
 "农村居民人均可支配收入":["可支配收入","居民收入","农民收入"],
 "全体居民人均可支配收入":["可支配收入","居民收入"],
 "民生支出":["民生"],
 "研发经费投入强度":["研发","R&D","研究与试验"],
 "一般公共预算支出":["支出"],
 "社会消费品零售总额":["社会消费品","社零","消费品零售"],
 "空气优良天数比例":["优良","空气质量"],
}
def norm(t):
    c, i, p, k = t
    return (c, ALIAS.get(i, i), p, k)
def main():
    rep, used = report_texts(), {norm(t) for t in combos_before(SPLIT)}
    errs, ids, seen = [], set(), {}
    verbose = "-q" not in sys.argv
    for kind, fields in (("absent", A_FIELDS), ("single", S_FIELDS)):
        path = os.path.join(HERE, f"facts_{SPLIT}_{kind}.jsonl")
        rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
        print(f"== {path}: {len(rows)} rows")
        for r in rows:
            rid = r.get("id")
            if list(r.keys()) != fields: errs.append(f"{rid}: field order {list(r.keys())}")
            if rid in ids: errs.append(f"{rid}: duplicate id")
            ids.add(rid)
            pre = "abs9-" if kind == "absent" else "sgl9-"
            if not re.fullmatch(pre + r"\d{3}", rid or ""): errs.append(f"{rid}: bad id")
            if r["type"] != kind or r["split"] != SPLIT: errs.append(f"{rid}: type/split")
            if r["city"] not in CITIES: errs.append(f"{rid}: city not allowed")
            if r["period"] not in ("2022","2023") or r["kind"] not in KINDS: errs.append(f"{rid}: period/kind")
            t = norm((r["city"], r["indicator"], r["period"], r["kind"]))
            if t in used: errs.append(f"{rid}: tuple reused from an earlier set {t}")
            if t in seen: errs.append(f"{rid}: tuple duplicated with {seen[t]}")
            seen[t] = rid
            text = rep.get(r["city"], "")
            if kind == "absent":
                if r["answer_keys"] != []: errs.append(f"{rid}: answer_keys not empty")
                if r["trap"] not in TRAPS: errs.append(f"{rid}: trap")
                if r["related"] not in text: errs.append(f"{rid}: related not in {r['city']} report")
                if verbose:
                    print(f"\n--- {rid} {r['city']} {r['indicator']} {r['period']} {r['kind']} [{r['trap']}] {r['question']}")
                    ws = WORDS.get(r["indicator"], [r["indicator"]])
                    for i, l in enumerate(text.split("\n")):
                        for s in re.split(r"(?<=[。；;])", l):
                            if any(w in s for w in ws): print(f"   L{i}: {s.strip()[:300]}")
            else:
                if not r["answer_keys"]: errs.append(f"{rid}: no answer_keys")
                if r["evidence"] not in text: errs.append(f"{rid}: evidence not in {r['city']} report")
                for k in r["answer_keys"]:
                    if k not in r["evidence"]: errs.append(f"{rid}: key {k} not in evidence")
    from collections import Counter
    for kind in ("absent", "single"):
        rows = [json.loads(l) for l in open(os.path.join(HERE, f"facts_{SPLIT}_{kind}.jsonl"), encoding="utf-8")]
        cc = Counter(r["city"] for r in rows)
        print(f"\n{kind}: n={len(rows)} cities={len(cc)} max/city={max(cc.values())}",
              dict(Counter(r.get("trap", r["kind"]) for r in rows)), dict(Counter(r["kind"] for r in rows)))
        if kind == "absent" and max(cc.values()) > 3: errs.append("more than 3 absent per city")
    print("\nERRORS:" if errs else "\nOK: all checks passed")
    for e in errs: print("  ", e)
    return 1 if errs else 0
if __name__ == "__main__":
    sys.exit(main())
