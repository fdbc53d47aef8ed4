#!/usr/bin/env python3
"""Checker for facts_fresh14_absent.jsonl / facts_fresh14_single.jsonl (stdlib only)."""
import json, os, re, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import (  # noqa: E402  (one report split, schema and the earlier rounds' combinations)
    ABSENT_FIELDS as A_FIELDS, QUESTION_KINDS as KINDS, SINGLE_FIELDS as S_FIELDS, TRAPS, combos_before, report_texts)
DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'eval', '')
MY_CITIES = set('宁波市 沁阳市 泉州市 汕尾市 商洛市 铜川市 渭南市 温州市 咸阳市 忻州市 珠海市 资兴市'.split())
WORDINGS = {
 "粮食总产量": ["粮食","粮"],
 "进出口总额": ["进出口","外贸","贸易"],
 "出口总额": ["出口","外贸","市场采购"],
 "社会消费品零售总额": ["社会消费品","社零","消费品零售","零售"],
 "全体居民人均可支配收入": ["人均可支配","可支配收入","居民收入","人均纯收入","收入倍差","城乡收入"],
 "农村居民人均可支配收入": ["人均可支配","可支配收入","居民收入","农民","农户","人均纯收入","收入倍差"],
 "固定资产投资": ["固定资产投资","固投","有效投资","完成投资"],
 "实际使用外资": ["外资","外商"],
 "制造业投资": ["制造业投资","工业投资"],
 "金融机构存款余额": ["存款","存贷款"],
 "一般公共预算收入": ["一般公共预算","财政收入","地方财政"],
 "民生支出": ["民生支出","民生投入","财政支出","一般公共预算支出"],
 "接待游客": ["游客","人次","旅游"],
 "税收收入": ["税收","税源"],
}

def load_reports():
    return {c: list(enumerate(text.split('\n'), 1)) for c, text in report_texts().items()}

def load_used():
    return {(c, i, str(p), k) for c, i, p, k in combos_before('fresh14')}

def main():
    rep = load_reports(); used = load_used()
    errs = []; ids = set(); tuples = set()
    def err(m): errs.append(m)
    for fn, fields, typ in ((DIR+'facts_fresh14_absent.jsonl', A_FIELDS, 'absent'),
                            (DIR+'facts_fresh14_single.jsonl', S_FIELDS, 'single')):
        for ln, raw in enumerate(open(fn, encoding='utf-8'), 1):
            if not raw.strip():
                err(f'{fn}:{ln} empty line'); continue
            d = json.loads(raw)
            if list(d.keys()) != fields: err(f'{fn}:{ln} field order {list(d.keys())}')
            if d['id'] in ids: err(f'dup id {d["id"]}')
            ids.add(d['id'])
            pref = 'abs14-' if typ == 'absent' else 'sgl14-'
            if not re.fullmatch(pref + r'\d{3}', d['id']): err(f'{d["id"]} bad id')
            if d['type'] != typ: err(f'{d["id"]} type')
            if d['split'] != 'fresh14': err(f'{d["id"]} split')
            if d['city'] not in MY_CITIES: err(f'{d["id"]} city not mine {d["city"]}')
            if d['period'] not in ('2022','2023'): err(f'{d["id"]} period')
            if d['kind'] not in KINDS: err(f'{d["id"]} kind')
            t = (d['city'], d['indicator'], d['period'], d['kind'])
            if t in used: err(f'{d["id"]} tuple reused {t}')
            if t in tuples: err(f'{d["id"]} tuple duplicated within my files {t}')
            tuples.add(t)
            text = '\n'.join(l for _, l in rep[d['city']])
            if typ == 'absent':
                if d['answer_keys'] != []: err(f'{d["id"]} answer_keys not empty')
                if d['trap'] not in TRAPS: err(f'{d["id"]} trap')
                if d['related'] not in text: err(f'{d["id"]} related not in {d["city"]} report')
                # also make sure related is not found in *another* city only
            else:
                if not d['answer_keys']: err(f'{d["id"]} no answer keys')
                if d['evidence'] not in text: err(f'{d["id"]} evidence not in {d["city"]} report')
                for a in d['answer_keys']:
                    if a not in d['evidence']: err(f'{d["id"]} key {a} not in evidence')
    # per-city limits for absent
    absent = [json.loads(l) for l in open(DIR+'facts_fresh14_absent.jsonl', encoding='utf-8')]
    single = [json.loads(l) for l in open(DIR+'facts_fresh14_single.jsonl', encoding='utf-8')]
    from collections import Counter
    ca = Counter(d['city'] for d in absent); cs = Counter(d['city'] for d in single)
    if len(absent) != 20: err('absent count != 20')
    if len(single) != 10: err('single count != 10')
    if len(ca) < 9: err('absent spread < 9 cities')
    if max(ca.values()) > 3: err(f'absent >3 per city {ca}')
    if len(cs) < 7: err('single spread < 7 cities')
    print('absent by trap:', dict(Counter(d['trap'] for d in absent)))
    print('absent by kind:', dict(Counter(d['kind'] for d in absent)))
    print('absent by city:', dict(ca))
    print('single by kind:', dict(Counter(d['kind'] for d in single)))
    print('single by city:', dict(cs))
    # review dump
    if '-q' not in sys.argv:
        for d in absent:
            print(f'\n===== {d["id"]} {d["city"]} {d["indicator"]} {d["period"]} {d["kind"]} [{d["trap"]}] {d["question"]}')
            print(f'   related: {d["related"]}')
            ws = WORDINGS.get(d['indicator'], [d['indicator']])
            pat = re.compile('|'.join(map(re.escape, ws)))
            for n, l in rep[d['city']]:
                if not pat.search(l): continue
                if len(l) <= 400:
                    print(f'   L{n}: {l}')
                else:  # very long line (e.g. 温州): print each matching sentence of it
                    for s in re.split(r'(?<=[。;；])', l):
                        if pat.search(s):
                            print(f'   L{n}~ {s.strip()}')
    print('\nERRORS:' if errs else '\nOK: all checks passed')
    for e in errs: print('  ', e)
    sys.exit(1 if errs else 0)

main()
