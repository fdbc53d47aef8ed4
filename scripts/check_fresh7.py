#!/usr/bin/env python3
"""Checker for facts_fresh7_absent.jsonl / facts_fresh7_single.jsonl (stdlib only)."""
import json, re, sys, os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import (  # noqa: E402  (one report split and schema for every checker)
    ABSENT_FIELDS as ABS_KEYS, QUESTION_KINDS as KINDS, SINGLE_FIELDS as SGL_KEYS, TRAPS, combos_before, report_texts)

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "eval")
SPLIT = "fresh7"
CITIES = "宁波市 沁阳市 泉州市 汕尾市 商洛市 铜川市 渭南市 温州市 咸阳市 忻州市 珠海市 资兴市".split()
# aliases so that differently spelled indicator names count as the same tuple
ALIAS = {"金融机构本外币存款余额": "金融机构存款余额", "金融机构本外币贷款余额": "金融机构贷款余额",
         "旅游总收入": "旅游收入", "居民人均可支配收入": "全体居民人均可支配收入",
         "招商引资到位资金": "招商引资", "第三产业增加值": "服务业增加值",
         "第一产业增加值": "农林牧渔业增加值", "农林牧渔业总产值": "农业总产值"}
WORDINGS = {
    "地区生产总值": ["生产总值", "GDP", "经济总量", "经济增长", "经济增速"],
    "一般公共预算收入": ["预算收入", "财政收入", "地方财政", "财政总收入"],
    "一般公共预算支出": ["预算支出", "财政支出", "支出"],
    "社会消费品零售总额": ["社会消费品", "社零", "消费品零售", "零售总额", "零售额"],
    "进出口总额": ["进出口", "外贸"],
    "出口总额": ["出口"],
    "固定资产投资": ["固定资产投资", "固投", "完成投资", "投资增长"],
    "规模以上工业增加值": ["工业增加值", "规工", "规上工业"],
    "实际使用外资": ["外资", "外商"],
    "全体居民人均可支配收入": ["可支配收入", "居民收入", "人均纯收入"],
    "城镇居民人均可支配收入": ["可支配收入", "居民收入"],
    "农村居民人均可支配收入": ["可支配收入", "居民收入"],
    "粮食总产量": ["粮食", "粮"],
    "城镇新增就业": ["就业"],
    "城镇调查失业率": ["失业率"],
    "居民消费价格涨幅": ["价格", "CPI", "消费指数"],
    "研发经费投入强度": ["研发", "R&D", "占GDP比重"],
    "旅游收入": ["旅游", "游客"],
    "接待游客": ["游客", "旅游"],
    "税收收入": ["税"],
    "常住人口城镇化率": ["城镇化", "城市化"],
    "高新技术企业": ["高新技术企业", "高企"],
    "金融机构存款余额": ["存款", "存贷"],
    "金融机构贷款余额": ["贷款", "存贷"],
    "民生支出": ["民生支出", "民生投入", "用于民生"],
    "招商引资": ["招商", "到位资金", "引进"],
    "农业总产值": ["农林牧渔", "农业总产值"],
}

def norm(ind):
    return ALIAS.get(ind, ind)

def main():
    rep = report_texts()
    used = {(c, norm(ind), per, kind) for c, ind, per, kind in combos_before(SPLIT)}
    errs = []
    ids = set()
    mine = {}
    show = "-q" not in sys.argv
    for fname, keys, prefix in [("facts_%s_absent.jsonl" % SPLIT, ABS_KEYS, "abs7-"),
                                ("facts_%s_single.jsonl" % SPLIT, SGL_KEYS, "sgl7-")]:
        path = os.path.join(HERE, fname)
        n = 0
        for ln, raw in enumerate(open(path, encoding="utf-8"), 1):
            if not raw.strip():
                continue
            n += 1
            where = "%s:%d" % (fname, ln)
            try:
                d = json.loads(raw)
            except Exception as e:
                errs.append("%s bad json %s" % (where, e)); continue
            if list(d.keys()) != keys:
                errs.append("%s field order %s" % (where, list(d.keys())))
            if d.get("id") in ids:
                errs.append("%s duplicate id %s" % (where, d.get("id")))
            ids.add(d.get("id"))
            if d.get("id") != "%s%03d" % (prefix, n):
                errs.append("%s id %s expected %s%03d" % (where, d.get("id"), prefix, n))
            if d.get("split") != SPLIT:
                errs.append("%s split" % where)
            city = d.get("city")
            if city not in CITIES:
                errs.append("%s city %s not allowed" % (where, city)); continue
            text = rep[city]
            if d.get("kind") not in KINDS:
                errs.append("%s kind" % where)
            if d.get("period") not in ("2022", "2023"):
                errs.append("%s period" % where)
            tup = (city, norm(d["indicator"]), d["period"], d["kind"])
            if tup in used:
                errs.append("%s tuple already used %s" % (where, tup))
            if tup in mine:
                errs.append("%s tuple repeated in this split %s (also %s)" % (where, tup, mine[tup]))
            mine[tup] = d["id"]
            if d["type"] == "absent":
                if d["answer_keys"] != []:
                    errs.append("%s absent with answer keys" % where)
                if d["trap"] not in TRAPS:
                    errs.append("%s trap %s" % (where, d["trap"]))
                if d["related"] not in text:
                    errs.append("%s related not in %s report: %s" % (where, city, d["related"]))
                if show:
                    print("=" * 70)
                    print(d["id"], city, d["indicator"], d["period"], d["kind"], d["trap"])
                    print("Q:", d["question"])
                    print("related:", d["related"])
                    words = WORDINGS.get(d["indicator"], [d["indicator"]])
                    for s in re.split(r"(?<=[。；\n])", text):
                        if any(w in s for w in words):
                            print("   |", s.strip())
            elif d["type"] == "single":
                if not d["answer_keys"]:
                    errs.append("%s no answer keys" % where)
                if d["evidence"] not in text:
                    errs.append("%s evidence not in %s report: %s" % (where, city, d["evidence"]))
                for k in d["answer_keys"]:
                    if k not in d["evidence"]:
                        errs.append("%s key %s not in evidence" % (where, k))
            else:
                errs.append("%s type" % where)
    print("\n".join(errs) if errs else "ALL CHECKS PASSED")
    return 1 if errs else 0

if __name__ == "__main__":
    sys.exit(main())
