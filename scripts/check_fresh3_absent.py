#!/usr/bin/env python3
"""Checker for facts_fresh3_absent.jsonl (stdlib only).

- loads the JSONL, checks fields / values / unique ids / split
- splits the report text file into per-city reports by their title lines
- checks every `related` is an exact substring of its city's report
- checks the (city, indicator, period, kind) tuple is not in used_absent.txt
- for each question prints every place where wordings of the asked indicator
  occur in that city's report (~30 chars around), so absences can be re-read.
Usage: python3 python scripts/check_fresh3_absent.py [--quiet]
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import earlier_combos, read_jsonl, report_texts  # noqa: E402  (one report split for every checker)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QFILE = os.path.join(ROOT, 'eval', 'facts_fresh3_absent.jsonl')
EARLIER = ['facts_absent', 'facts_fresh_absent', 'facts_fresh2_absent', 'facts_gold_absent']

FIELDS = ["id", "type", "question", "city", "indicator", "period", "kind",
          "related", "answer_keys", "split", "trap"]
KINDS = {"amount", "growth", "share", "count"}
TRAPS = {"other kind", "other period", "sub-item", "no number"}
PERIODS = {"2022", "2023"}

# wordings (regex) of each indicator; deliberately broad
WORDINGS = {
    '地区生产总值': r'生产总值|GDP|经济总量|总产值|地区总产',
    '一般公共预算收入': r'一般公共预算|财政收入|财政总收入|公共财政|税收收入|地方级收入|财力',
    '社会消费品零售总额': r'社会消费品|社零|消费品零售|零售总额|零售额',
    '进出口总额': r'进出口|外贸|对外贸易|进口|出口',
    '出口总额': r'进出口|外贸|对外贸易|出口',
    '固定资产投资': r'固定资产投资|固投|全社会投资|投资增长|投资总额|完成投资',
    '规模以上工业增加值': r'规模以上工业|规上工业|规工|工业增加值|规模工业|工业总产值|工业产值|工业经济',
    '实际使用外资': r'外资|外商|FDI|利用外资|境外资金',
    '城镇居民人均可支配收入': r'可支配收入|居民收入|人均收入|城镇居民|城乡居民',
    '农村居民人均可支配收入': r'可支配收入|居民收入|人均收入|农村居民|农民收入|农民人均|城乡居民',
    '粮食总产量': r'粮',
    '城镇新增就业': r'就业',
    '城镇调查失业率': r'失业',
    '居民消费价格涨幅': r'消费价格|CPI|物价|消费指数|价格总水平',
    '单位GDP能耗': r'能耗|能源消耗|能源消费|节能|降耗',
    '研发经费投入强度': r'研发|R&D|研究与试验|研究与开发|科技投入|创新投入',
    '常住人口城镇化率': r'城镇化|常住人口',
    '旅游收入': r'旅游|游客|接待|文旅',
}


def main():
    quiet = '--quiet' in sys.argv
    reps = report_texts()
    used = earlier_combos(EARLIER)
    rows, errors = read_jsonl(QFILE)
    ids = [r.get('id') for r in rows]
    if len(ids) != len(set(ids)):
        errors.append('duplicate ids')
    tuples = set()
    for r in rows:
        rid = r.get('id')
        if list(r.keys()) != FIELDS:
            errors.append(f'{rid}: fields {list(r.keys())}')
        if r.get('type') != 'absent':
            errors.append(f'{rid}: type')
        if r.get('split') != 'fresh3':
            errors.append(f'{rid}: split')
        if r.get('answer_keys') != []:
            errors.append(f'{rid}: answer_keys not empty')
        if r.get('kind') not in KINDS:
            errors.append(f'{rid}: kind {r.get("kind")}')
        if r.get('trap') not in TRAPS:
            errors.append(f'{rid}: trap {r.get("trap")}')
        if r.get('period') not in PERIODS:
            errors.append(f'{rid}: period {r.get("period")}')
        if not re.match(r'^abs3-\d{3}$', rid or ''):
            errors.append(f'{rid}: id format')
        city = r.get('city')
        if city not in reps:
            errors.append(f'{rid}: unknown city {city}')
            continue
        if r.get('related') not in reps[city]:
            errors.append(f'{rid}: related not a substring of {city} report')
        t = (city, r['indicator'], r['period'], r['kind'])
        if t in used:
            errors.append(f'{rid}: tuple already used {t}')
        if t in tuples:
            errors.append(f'{rid}: tuple repeated in this file {t}')
        tuples.add(t)
        if r['indicator'] not in WORDINGS:
            errors.append(f'{rid}: no wordings for indicator {r["indicator"]}')

    # summary
    from collections import Counter
    print(f'{len(rows)} questions; cities={len(set(r["city"] for r in rows))}; '
          f'indicators={len(set(r["indicator"] for r in rows))}')
    print('by trap:', dict(Counter(r['trap'] for r in rows)))
    print('by kind:', dict(Counter(r['kind'] for r in rows)))
    print('by period:', dict(Counter(r['period'] for r in rows)))
    print('cities:', dict(Counter(r['city'] for r in rows)))
    print('indicators:', dict(Counter(r['indicator'] for r in rows)))
    print('ERRORS:' if errors else 'no errors')
    for e in errors:
        print('  ', e)

    if quiet:
        return 1 if errors else 0
    # print contexts for manual re-reading
    for r in rows:
        city = r['city']
        if city not in reps:
            continue
        t = reps[city].replace('\n', ' ')
        pat = WORDINGS.get(r['indicator'])
        print('\n' + '=' * 100)
        print(f"{r['id']} [{r['trap']}] {city} | {r['indicator']} | {r['period']} | {r['kind']}")
        print('Q:', r['question'])
        print('related:', r['related'])
        if not pat:
            continue
        last = -1000
        for m in re.finditer(pat, t):
            if m.start() - last < 30:   # merge near-duplicate hits
                continue
            last = m.start()
            s = max(0, m.start() - 30)
            pos = m.start() / max(1, len(t))
            print(f'  [{m.start():6d} {pos:4.0%}] ...{t[s:m.end() + 30]}...')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
