#!/usr/bin/env python3
"""Checker for fresh8 annotation files (stdlib only)."""
import json, re, sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import (  # noqa: E402  (one report split and schema for every checker)
    ABSENT_FIELDS as ABS_FIELDS, QUESTION_KINDS as KINDS, SINGLE_FIELDS as SGL_FIELDS, TRAPS, combos_before, report_texts)
HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "eval")
SPLIT = "fresh8"
ALLOWED = set("彬州市 高安市 邯郸市 河源市 金华市 乐昌市 临沧市 龙南市 泸州市 茂名市 梅州市 南宁市".split())
WORDINGS = {
 "地区生产总值": ["生产总值","GDP","经济增长","经济增速"],
 "一般公共预算收入": ["一般公共预算收入","财政收入","预算收入","地方级收入"],
 "社会消费品零售总额": ["社会消费品","社零","消费品零售","零售额","零售业"],
 "进出口总额": ["进出口","外贸"],
 "出口总额": ["出口"],
 "固定资产投资": ["固定资产投资","固投","投资增长","年度投资","完成投资"],
 "规模以上工业增加值": ["工业增加值","规上工业","规模以上工业"],
 "实际使用外资": ["外资","外商"],
 "全体居民人均可支配收入": ["可支配收入","居民收入"],
 "城镇居民人均可支配收入": ["可支配收入"],
 "农村居民人均可支配收入": ["可支配收入"],
 "单位GDP能耗": ["能耗","节能","能源消费"],
 "常住人口城镇化率": ["城镇化率","城镇化"],
 "旅游收入": ["旅游","文旅"],
 "接待游客": ["游客","旅游者","人次"],
 "高新技术企业": ["高新技术企业","高企"],
 "研发经费投入强度": ["研发","R&D","研究与试验"],
 "民生支出": ["民生"],
 "招商引资": ["招商","引进","签约"],
 "城镇新增就业": ["就业"],
 "粮食总产量": ["粮食","产量"],
}
SYN = {"旅游总收入":"旅游收入","居民人均可支配收入":"全体居民人均可支配收入","研发经费投入":"研发经费投入","居民消费价格":"居民消费价格涨幅","招商引资到位资金":"招商引资"}
def norm(t):
    return (t[0], SYN.get(t[1], t[1]), t[2], t[3])

def main():
    R = {c: (0, t.split("\n")) for c, t in report_texts().items()}; U = {norm(t) for t in combos_before(SPLIT)}
    errs = []; ids = set(); mine = set(); percity = {}
    show = "-v" in sys.argv
    for fn, fields, typ in ((f"facts_{SPLIT}_absent.jsonl", ABS_FIELDS, "absent"), (f"facts_{SPLIT}_single.jsonl", SGL_FIELDS, "single")):
        for n, line in enumerate(open(os.path.join(HERE, fn), encoding="utf-8"), 1):
            d = json.loads(line)
            where = f"{fn}:{n}"
            if list(d.keys()) != fields: errs.append(f"{where} field order {list(d.keys())}")
            if d["type"] != typ or d["split"] != SPLIT: errs.append(f"{where} type/split")
            pref = "abs8-" if typ == "absent" else "sgl8-"
            if not re.fullmatch(pref + r"\d{3}", d["id"]): errs.append(f"{where} bad id {d['id']}")
            if d["id"] in ids: errs.append(f"{where} dup id")
            ids.add(d["id"])
            if d["city"] not in ALLOWED: errs.append(f"{where} city not allowed {d['city']}")
            if d["period"] not in ("2022","2023") or d["kind"] not in KINDS: errs.append(f"{where} period/kind")
            t = (d["city"], d["indicator"], d["period"], d["kind"])
            if norm(t) in U: errs.append(f"{where} tuple already used {t}")
            if norm(t) in mine: errs.append(f"{where} tuple duplicated in my files {t}")
            mine.add(norm(t))
            if d["city"] not in R: errs.append(f"{where} no report"); continue
            text = "\n".join(R[d["city"]][1])
            if typ == "absent":
                percity[d["city"]] = percity.get(d["city"], 0) + 1
                if d["answer_keys"] != []: errs.append(f"{where} answer_keys not empty")
                if d["trap"] not in TRAPS: errs.append(f"{where} trap")
                if d["related"] not in text: errs.append(f"{where} related not in {d['city']} report: {d['related']}")
                if show:
                    print(f"\n### {d['id']} {t} trap={d['trap']}\n    Q: {d['question']}\n    related: {d['related']}")
                    start = R[d["city"]][0]
                    for li, l in enumerate(R[d["city"]][1]):
                        for cl in re.split(r'(?<=[。；;])', l):
                            if any(w in cl for w in WORDINGS.get(d["indicator"], [d["indicator"]])):
                                print(f"    L{start+li+1}: {cl.strip()[:220]}")
            else:
                if not d["answer_keys"]: errs.append(f"{where} no answer keys")
                if d["evidence"] not in text: errs.append(f"{where} evidence not in {d['city']} report")
                for k in d["answer_keys"]:
                    if k not in d["evidence"]: errs.append(f"{where} key {k} not in evidence")
    for c, n in percity.items():
        if n > 3: errs.append(f"{c} has {n} absent (>3)")
    print("\n".join(errs) if errs else "OK: all checks passed")
    return 1 if errs else 0

if __name__ == "__main__":
    sys.exit(main())
