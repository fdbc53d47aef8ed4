#!/usr/bin/env python3
"""Checker for fresh10 annotation files (stdlib only).

Verifies: field names and order, unique ids, split, related/evidence are exact substrings of the named
city's report, answer keys inside evidence, no (city, indicator, period, kind) tuple reused from
the sets written before it (with synonym normalisation), at most 3 absent per city,
only the allowed cities. For absent lines prints every sentence of the city's report containing one of the
indicator's wordings so they can be re-read. Exit code 1 on any error.
"""
import json
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_facts_gold import (  # noqa: E402  (one report split and schema for every checker)
    ABSENT_FIELDS as ABS_FIELDS, QUESTION_KINDS as KINDS, SINGLE_FIELDS as SGL_FIELDS, TRAPS, combos_before, report_texts)

HERE = Path(__file__).resolve().parent.parent / 'eval'
SPLIT = 'fresh10'
CITIES = set('宁波市 沁阳市 泉州市 汕尾市 商洛市 铜川市 渭南市 温州市 咸阳市 忻州市 珠海市 资兴市'.split())

# synonyms: names that denote the same indicator for the reuse check
SYN = {
    '居民人均可支配收入': '全体居民人均可支配收入',
    '金融机构本外币贷款余额': '金融机构贷款余额',
    '金融机构本外币存款余额': '金融机构存款余额',
    '旅游总收入': '旅游收入',
    '招商引资到位资金': '招商引资',
    '财政总收入': '一般公共预算总收入',
    '规模以上工业企业': '规上工业企业数',
    '农林牧渔业总产值': '农业总产值',
    '第一产业增加值': '农林牧渔业增加值',
    '空气质量优良天数比例': '空气质量优良天数',
}
# the two unemployment rates are treated as one indicator for the reuse check (conservative)
SYN['城镇登记失业率'] = '失业率'
SYN['城镇调查失业率'] = '失业率'

WORDINGS = {
    '全体居民人均可支配收入': ['可支配收入', '居民收入', '纯收入', '收入倍差'],
    '城镇居民人均可支配收入': ['可支配收入', '居民收入', '城镇居民', '城乡居民'],
    '农村居民人均可支配收入': ['可支配收入', '居民收入', '农村居民', '纯收入', '农民'],
    '进出口总额': ['进出口', '外贸', '出口'],
    '出口总额': ['出口', '外贸'],
    '金融机构贷款余额': ['贷款', '存贷款', '金融机构'],
    '民生支出': ['民生支出', '民生投入', '民生'],
    '居民消费价格涨幅': ['价格', 'CPI', '物价', '消费指数'],
    '工业投资': ['工业投资', '工业有效投资', '制造业投资'],
    '空气质量优良天数': ['优良', '空气质量', 'PM2.5'],
    '专利授权量': ['专利', '知识产权'],
    '规模以上工业增加值': ['工业增加值', '规上工业', '规模以上工业', '规工'],
    '固定资产投资': ['固定资产投资', '固投', '投资'],
    '民间投资': ['民间投资', '民间资本'],
    '城镇调查失业率': ['失业'],
    '城镇登记失业率': ['失业'],
    '房地产开发投资': ['房地产'],
    '社会消费品零售总额': ['社会消费品', '社零', '消费品零售', '零售额'],
}


def norm(t):
    c, ind, p, k = t
    return (c, SYN.get(ind, ind), p, k)


def section(text, sub):
    """'2022' if the substring sits in the review part, '2023' if in the plan part (rough)."""
    pos = text.find(sub)
    m = re.search(r'\n[一二三四五]、\s*2023年|\n二、|2023年(主要)?(目标|工作)', text)
    cut = m.start() if m else len(text)
    return '2022-review' if pos < cut else '2023-plan'


def main():
    reports = report_texts()
    used = {norm(t) for t in combos_before(SPLIT)}
    errors = []
    ids = set()
    tuples = set()
    per_city_abs = Counter()
    traps = Counter()
    stats = {'absent': Counter(), 'single': Counter()}
    for fname, fields, typ in [('facts_%s_absent.jsonl' % SPLIT, ABS_FIELDS, 'absent'),
                               ('facts_%s_single.jsonl' % SPLIT, SGL_FIELDS, 'single')]:
        rows = [json.loads(x) for x in (HERE / fname).read_text(encoding='utf-8').splitlines() if x.strip()]
        print('=== %s: %d lines' % (fname, len(rows)))
        for r in rows:
            rid = r.get('id')
            if list(r.keys()) != fields:
                errors.append('%s: field order %s' % (rid, list(r.keys())))
            if rid in ids:
                errors.append('%s: duplicate id' % rid)
            ids.add(rid)
            pre = 'abs10-' if typ == 'absent' else 'sgl10-'
            if not re.fullmatch(pre + r'\d{3}', rid or ''):
                errors.append('%s: bad id' % rid)
            if r['type'] != typ or r['split'] != SPLIT:
                errors.append('%s: type/split' % rid)
            if r['city'] not in CITIES:
                errors.append('%s: city not allowed %s' % (rid, r['city']))
            if r['period'] not in ('2022', '2023') or r['kind'] not in KINDS:
                errors.append('%s: period/kind' % rid)
            text = reports.get(r['city'], '')
            t = (r['city'], r['indicator'], r['period'], r['kind'])
            if norm(t) in used:
                errors.append('%s: tuple reused %s' % (rid, t))
            if norm(t) in tuples:
                errors.append('%s: tuple duplicated in this split %s' % (rid, t))
            tuples.add(norm(t))
            stats[typ][r['city']] += 1
            if typ == 'absent':
                per_city_abs[r['city']] += 1
                traps[r['trap']] += 1
                if r['trap'] not in TRAPS:
                    errors.append('%s: bad trap' % rid)
                if r['answer_keys'] != []:
                    errors.append('%s: absent must have empty answer_keys' % rid)
                if r['related'] not in text:
                    errors.append('%s: related not in %s report' % (rid, r['city']))
                print('\n[%s] %s | %s %s %s %s | trap=%s | related@%s' % (
                    rid, r['question'], r['city'], r['indicator'], r['period'], r['kind'], r['trap'],
                    section(text, r['related'])))
                words = WORDINGS.get(r['indicator'], [r['indicator']])
                for s in re.split(r'[。;\n]', text):
                    if any(w in s for w in words):
                        print('    · ' + s.strip()[:260])
            else:
                if not r['answer_keys']:
                    errors.append('%s: no answer keys' % rid)
                if r['evidence'] not in text:
                    errors.append('%s: evidence not in %s report' % (rid, r['city']))
                for k in r['answer_keys']:
                    if k not in r['evidence']:
                        errors.append('%s: key %s not in evidence' % (rid, k))
                print('[%s] %s | %s %s %s %s | %s | evidence@%s (x%d)' % (
                    rid, r['question'], r['city'], r['indicator'], r['period'], r['kind'], r['answer_keys'],
                    section(text, r['evidence']), text.count(r['evidence'])))
    for c, n in per_city_abs.items():
        if n > 3:
            errors.append('%s: %d absent (>3)' % (c, n))
    print('\nabsent per city:', dict(stats['absent']))
    print('single per city:', dict(stats['single']))
    print('absent traps:', dict(traps))
    print('\nERRORS:' if errors else '\nOK: no errors')
    for e in errors:
        print('  ' + e)
    sys.exit(1 if errors else 0)


if __name__ == '__main__':
    main()
