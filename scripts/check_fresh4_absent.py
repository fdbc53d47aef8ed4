#!/usr/bin/env python3
"""Checker for the fresh4 'related-but-absent' questions (stdlib only).

Loads eval/facts_fresh4_absent.jsonl (relative to the repository root),
falling back to facts_fresh4_absent.jsonl next to this script. Checks fields,
ids, values, that `related` is an exact substring of the city's report, that no
(city, indicator, period, kind) repeats, and prints every place in the city's
report where wordings of the asked indicator occur so absences can be re-read.
Usage: python3 check_fresh4_absent.py [--quiet] [--repo ROOT]
"""
import os, re, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import read_jsonl, report_texts  # noqa: E402  (one report split for every checker)
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
args = sys.argv[1:]
QUIET = '--quiet' in args
REPO = os.path.dirname(HERE)  # the repository (scripts/..)
if '--repo' in args:
    REPO = args[args.index('--repo') + 1]

FIELDS = ["id", "type", "question", "city", "indicator", "period", "kind",
          "related", "answer_keys", "split", "trap"]
KINDS = {"amount", "growth", "share", "count"}
TRAPS = {"other kind", "other period", "sub-item", "no number"}
PERIODS = {"2022", "2023"}

# wordings (regex) to sweep for each asked indicator
INC = r'可支配收入|居民收入|收入增长|人均收入|纯收入|农民.{0,8}收入|城镇居民|农村居民|城乡居民|城市居民'
WORDS = {
    '地区生产总值': r'生产总值|GDP|经济总量|经济规模',
    '一般公共预算收入': r'预算收入|财政收入|财政总收入|税收',
    '社会消费品零售总额': r'消费品零售|社零|零售额|零售总额|消费品',
    '进出口总额': r'进出口|外贸|进口|出口',
    '出口总额': r'出口|外贸',
    '固定资产投资': r'固定资产|投资增长|投资完成|完成投资|投资总额|投资下降|投资.{0,4}亿元',
    '规模以上工业增加值': r'工业增加值|规上工业|规模以上工业|规模工业|工业.{0,4}增长',
    '实际使用外资': r'外资|外商|FDI',
    '全体居民人均可支配收入': INC,
    '城镇居民人均可支配收入': INC,
    '农村居民人均可支配收入': INC,
    '粮食总产量': r'粮',
    '城镇新增就业': r'就业',
    '城镇调查失业率': r'失业',
    '居民消费价格涨幅': r'消费价格|物价|CPI|消费指数|价格指数',
    '单位GDP能耗': r'能耗|能源消耗|节能|单位.{0,6}能',
    '研发经费投入强度': r'研发|R&D|研究与试验|研究与开发|科技投入|投入强度',
    '旅游收入': r'旅游.{0,4}收入|游客|旅游',
    '税收收入': r'税',
    '常住人口城镇化率': r'城镇化',
    '高新技术企业': r'高新技术企业|高企',
    '金融机构存贷款余额': r'存款|贷款|存贷',
}


def find_data():
    return os.path.join(REPO, 'eval', 'facts_fresh4_absent.jsonl')


def main():
    data = find_data()
    reps = report_texts()
    rows, errs = read_jsonl(data)
    ids = Counter(r.get('id') for r in rows)
    for i, c in ids.items():
        if c > 1:
            errs.append(f'duplicate id {i}')
    combos = Counter()
    for r in rows:
        rid = r.get('id')
        if list(r.keys()) != FIELDS:
            errs.append(f'{rid}: fields/order {list(r.keys())}')
        if r.get('type') != 'absent':
            errs.append(f'{rid}: type')
        if r.get('split') != 'fresh4':
            errs.append(f'{rid}: split')
        if r.get('kind') not in KINDS:
            errs.append(f'{rid}: kind {r.get("kind")}')
        if r.get('trap') not in TRAPS:
            errs.append(f'{rid}: trap {r.get("trap")}')
        if r.get('period') not in PERIODS:
            errs.append(f'{rid}: period {r.get("period")}')
        if r.get('answer_keys') != []:
            errs.append(f'{rid}: answer_keys must be []')
        if not r.get('question'):
            errs.append(f'{rid}: empty question')
        city = r.get('city')
        if city not in reps:
            errs.append(f'{rid}: unknown city {city}')
            continue
        if not r.get('related') or r['related'] not in reps[city]:
            errs.append(f'{rid}: related not in {city} report: {r.get("related")}')
        combos[(city, r.get('indicator'), r.get('period'), r.get('kind'))] += 1
    for k, c in combos.items():
        if c > 1:
            errs.append(f'repeated combo {k}')
    if not QUIET:
        for r in rows:
            city = r.get('city')
            if city not in reps:
                continue
            t = reps[city]
            print(f"\n=== {r['id']} [{r['trap']}] {city} {r['indicator']} {r['period']} {r['kind']}")
            print(f"    Q: {r['question']}")
            print(f"    related: {r['related']}")
            pat = WORDS.get(r['indicator'])
            if not pat:
                print('    (no wording pattern for this indicator)')
                continue
            last = -100
            for m in re.finditer(pat, t):
                if m.start() - last < 15:   # merge near-duplicate hits
                    continue
                last = m.start()
                s = t[max(0, m.start() - 30):m.end() + 30].replace('\n', '⏎')
                print(f'    [{m.start()}] …{s}…')
    print('\n==== summary ====')
    print('file:', data)
    print('questions:', len(rows))
    print('trap:', dict(Counter(r.get('trap') for r in rows)))
    print('kind:', dict(Counter(r.get('kind') for r in rows)))
    print('period:', dict(Counter(r.get('period') for r in rows)))
    print('cities:', len({r.get('city') for r in rows}), sorted({r.get('city') for r in rows}))
    print('indicators:', len({r.get('indicator') for r in rows}), sorted({r.get('indicator') for r in rows}))
    if errs:
        print('ERRORS:')
        for e in errs:
            print('  ', e)
        sys.exit(1)
    print('OK: no errors')


if __name__ == '__main__':
    main()
