#!/usr/bin/env python3
"""Stdlib checker for facts_fresh12_absent.jsonl / facts_fresh12_single.jsonl.

Verifies: JSON fields and order, unique ids, allowed cities, `related`/`evidence`
are exact substrings of the named city's report, answer keys inside evidence,
no (city, indicator, period, kind) tuple reused from used_absent/used_single
(or duplicated within these files). For absent lines it prints every line/sentence
of the city's report containing one of the indicator's wordings, for re-reading.
"""
import json
import os
import re
import sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'eval')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import (  # noqa: E402  (one report split, schema and the earlier rounds' combinations)
    ABSENT_FIELDS as ABS_FIELDS, QUESTION_KINDS as KINDS, SINGLE_FIELDS as SGL_FIELDS, TRAPS, combos_before, report_texts)
SPLIT = 'fresh12'
N = 12
CITIES = '宁波市 沁阳市 泉州市 汕尾市 商洛市 铜川市 渭南市 温州市 咸阳市 忻州市 珠海市 资兴市'.split()

# wordings used to locate every mention of an indicator in a report
WORDS = {
    '地区生产总值': ['生产总值', 'GDP', '经济总量'],
    '一般公共预算收入': ['一般公共预算收入', '财政收入', '公共预算'],
    '社会消费品零售总额': ['社会消费品', '社零', '消费品零售'],
    '进出口总额': ['进出口', '外贸'],
    '出口总额': ['出口', '外贸'],
    '固定资产投资': ['固定资产投资', '固投', '投资'],
    '规模以上工业增加值': ['工业增加值', '规上工业', '规模以上工业', '规工'],
    '实际使用外资': ['外资', '外商'],
    '全体居民人均可支配收入': ['可支配收入', '居民收入', '居民人均'],
    '城镇居民人均可支配收入': ['可支配收入', '居民收入', '城镇居民', '城乡居民'],
    '农村居民人均可支配收入': ['可支配收入', '居民收入', '农村居民', '城乡居民', '农民', '纯收入'],
    '粮食总产量': ['粮食', '粮'],
    '城镇新增就业': ['新增就业', '城镇就业', '就业'],
    '居民消费价格涨幅': ['消费价格', 'CPI', '物价', '价格指数'],
    '高新技术企业': ['高新技术企业', '高企'],
    '金融机构贷款余额': ['贷款', '存贷款'],
    '金融机构存款余额': ['存款', '存贷款'],
}


def load_reports():
    return {c: text.split('\n') for c, text in report_texts().items()}


def load_used():
    return {(c, i, str(p), k) for c, i, p, k in combos_before(SPLIT)}




def main():
    rep = load_reports()
    used = load_used()
    errs = []
    ids = set()
    tuples = {}
    show = '-q' not in sys.argv
    counts = {}
    for fname, fields, typ, prefix in [
            ('facts_fresh12_absent.jsonl', ABS_FIELDS, 'absent', f'abs{N}-'),
            ('facts_fresh12_single.jsonl', SGL_FIELDS, 'single', f'sgl{N}-')]:
        path = os.path.join(HERE, fname)
        for ln, raw in enumerate(open(path, encoding='utf-8'), 1):
            where = f'{fname}:{ln}'
            try:
                d = json.loads(raw)
            except Exception as e:
                errs.append(f'{where}: bad JSON {e}')
                continue
            if list(d.keys()) != fields:
                errs.append(f'{where}: fields/order {list(d.keys())}')
            if d.get('type') != typ:
                errs.append(f'{where}: type {d.get("type")}')
            if d.get('split') != SPLIT:
                errs.append(f'{where}: split')
            i = d.get('id', '')
            if not re.fullmatch(re.escape(prefix) + r'\d{3}', i):
                errs.append(f'{where}: id format {i}')
            if i in ids:
                errs.append(f'{where}: duplicate id {i}')
            ids.add(i)
            c = d.get('city')
            if c not in CITIES:
                errs.append(f'{where}: city not allowed {c}')
                continue
            if c not in rep:
                errs.append(f'{where}: no report for {c}')
                continue
            text = '\n'.join(rep[c])
            if d.get('period') not in ('2022', '2023'):
                errs.append(f'{where}: period')
            if d.get('kind') not in KINDS:
                errs.append(f'{where}: kind')
            if not d.get('question'):
                errs.append(f'{where}: empty question')
            t = (c, d['indicator'], d['period'], d['kind'])
            if t in used:
                errs.append(f'{where}: tuple already used {t}')
            if t in tuples:
                errs.append(f'{where}: tuple duplicated in own files (also {tuples[t]})')
            tuples[t] = where
            if typ == 'absent':
                if d['answer_keys'] != []:
                    errs.append(f'{where}: absent answer_keys must be []')
                if d.get('trap') not in TRAPS:
                    errs.append(f'{where}: trap {d.get("trap")}')
                if not d['related'] or d['related'] not in text:
                    errs.append(f'{where}: related not in {c} report: {d["related"]}')
                key = ('absent', d['trap'])
            else:
                ev = d['evidence']
                if not ev or ev not in text:
                    errs.append(f'{where}: evidence not in {c} report: {ev}')
                if not d['answer_keys']:
                    errs.append(f'{where}: no answer keys')
                for a in d['answer_keys']:
                    if a not in ev:
                        errs.append(f'{where}: key {a} not in evidence')
                key = ('single', '-')
            counts.setdefault(key, 0)
            counts[key] += 1
            counts.setdefault(('city', typ, c), 0)
            counts[('city', typ, c)] += 1
            if typ == 'absent' and show:
                print(f'\n##### {d["id"]} {c} {d["indicator"]} {d["period"]} {d["kind"]} [{d["trap"]}]')
                print(f'   Q: {d["question"]}   related: {d["related"]}')
                words = WORDS.get(d['indicator'], [d['indicator']])
                for s in re.split(r'(?<=[。;；\n])', text):
                    hit = [w for w in words if w in s]
                    if hit:
                        print(f'   - {hit} {s.strip()}')
    # per-city limits
    for (a, *rest), v in sorted(counts.items(), key=str):
        pass
    abs_cities = {k[2]: v for k, v in counts.items() if k[0] == 'city' and k[1] == 'absent'}
    sgl_cities = {k[2]: v for k, v in counts.items() if k[0] == 'city' and k[1] == 'single'}
    for c, v in abs_cities.items():
        if v > 3:
            errs.append(f'absent: {c} has {v} > 3 questions')
    if len(abs_cities) < 9:
        errs.append(f'absent: only {len(abs_cities)} cities (< 9)')
    if len(sgl_cities) < 7:
        errs.append(f'single: only {len(sgl_cities)} cities (< 7)')
    n_abs = sum(abs_cities.values())
    n_sgl = sum(sgl_cities.values())
    if n_abs != 20:
        errs.append(f'absent count {n_abs} != 20')
    if n_sgl != 10:
        errs.append(f'single count {n_sgl} != 10')
    print('\n=== counts')
    print('absent by trap:', {k[1]: v for k, v in counts.items() if k[0] == 'absent'})
    print('absent by city:', abs_cities)
    print('single by city:', sgl_cities)
    kinds = {}
    for fname in ('facts_fresh12_absent.jsonl', 'facts_fresh12_single.jsonl'):
        for raw in open(os.path.join(HERE, fname), encoding='utf-8'):
            d = json.loads(raw)
            kinds[(d['type'], d['kind'])] = kinds.get((d['type'], d['kind']), 0) + 1
    print('by type/kind:', kinds)
    if errs:
        print('\nFAIL')
        for e in errs:
            print('  ', e)
        sys.exit(1)
    print('\nPASS')


if __name__ == '__main__':
    main()
