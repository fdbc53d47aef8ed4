#!/usr/bin/env python3
"""Checker for facts_fresh13_absent.jsonl / facts_fresh13_single.jsonl (stdlib only).
Usage: python3 check.py [--full]   (--full prints whole report lines instead of snippets)"""
import json, re, sys, os, collections
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'eval')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import (  # noqa: E402  (one report split, schema and the earlier rounds' combinations)
    ABSENT_FIELDS as ABS_KEYS, QUESTION_KINDS as KINDS, SINGLE_FIELDS as SGL_KEYS, TRAPS, combos_before, report_texts)
SPLIT, N = 'fresh13', 13
CITIES = '彬州市 高安市 邯郸市 河源市 金华市 乐昌市 临沧市 龙南市 泸州市 茂名市 梅州市 南宁市'.split()
FULL = '--full' in sys.argv
# wordings searched in the whole city report for absent lines
WORDS = {
 '地区生产总值': ['生产总值','GDP','经济增长','经济增速'],
 '人均地区生产总值': ['人均GDP','人均地区生产总值','人均生产总值','人均'],
 '原煤产量': ['原煤','煤炭产量','产煤','煤产量','产量'],
 '农村居民人均可支配收入': ['农村居民','农村常住居民','农民人均','纯收入','可支配收入','居民收入','农民收入'],
 '城镇居民人均可支配收入': ['城镇居民','城镇常住居民','城乡居民','可支配收入','居民收入'],
 '规模以上工业增加值': ['工业增加值','规上工业','规模以上工业','工业经济'],
 '接待游客': ['游客','旅游者','旅游人次','接待','人次'],
 '出口总额': ['出口','外贸'],
 '旅游收入': ['旅游收入','旅游总收入','旅游综合收入','旅游业','旅游产业'],
 '工业投资': ['工业投资','产业投资','能源投资','制造业投资','工业项目'],
 '居民消费价格涨幅': ['居民消费价格','CPI','物价','价格指数'],
 '城镇调查失业率': ['失业','调查失业'],
 '进出口总额': ['进出口','外贸','出口','进口'],
 '粮食总产量': ['粮食','产量'],
 '房地产开发投资': ['房地产'],
}
def reports():
    return {c: text.split('\n') for c, text in report_texts().items()}
def used():
    return {(c, i, str(p), k) for c, i, p, k in combos_before(SPLIT)}
R = reports(); U = used(); errs = []
def err(m): errs.append(m); print('ERROR:', m)
def load(fn, keys, typ, prefix):
    rows = []
    for n, l in enumerate(open(os.path.join(HERE, fn), encoding='utf-8'), 1):
        if not l.strip(): err(f'{fn}:{n} empty line'); continue
        try:
            o = json.loads(l, object_pairs_hook=collections.OrderedDict)
        except Exception as e:
            err(f'{fn}:{n} bad json {e}'); continue
        if list(o.keys()) != keys: err(f'{fn}:{n} keys/order {list(o.keys())}')
        if not re.fullmatch(prefix + r'\d{3}', str(o.get('id',''))): err(f'{fn}:{n} bad id {o.get("id")}')
        if o.get('type') != typ: err(f'{fn}:{n} type')
        if o.get('split') != SPLIT: err(f'{fn}:{n} split')
        if o.get('city') not in CITIES: err(f'{fn}:{n} city not allowed {o.get("city")}')
        if o.get('period') not in ('2022','2023'): err(f'{fn}:{n} period')
        if o.get('kind') not in KINDS: err(f'{fn}:{n} kind')
        if not o.get('question'): err(f'{fn}:{n} empty question')
        t = (o.get('city'), o.get('indicator'), o.get('period'), o.get('kind'))
        if t in U: err(f'{fn}:{n} tuple reused {t}')
        rows.append(o)
    return rows
A = load('facts_fresh13_absent.jsonl', ABS_KEYS, 'absent', f'abs{N}-')
S = load('facts_fresh13_single.jsonl', SGL_KEYS, 'single', f'sgl{N}-')
ids = [o['id'] for o in A + S]
if len(ids) != len(set(ids)): err('duplicate ids')
tups = [(o['city'], o['indicator'], o['period'], o['kind']) for o in A + S]
if len(tups) != len(set(tups)): err('duplicate tuple inside own files')
for o in A:
    txt = '\n'.join(R[o['city']])
    if o['answer_keys'] != []: err(f"{o['id']} answer_keys must be []")
    if o['trap'] not in TRAPS: err(f"{o['id']} trap {o['trap']}")
    if o['related'] not in txt: err(f"{o['id']} related not in {o['city']} report: {o['related']}")
    for c in R:
        if c != o['city'] and o['related'] in '\n'.join(R[c]): print(f"  note: {o['id']} related also occurs in {c}")
for o in S:
    txt = '\n'.join(R[o['city']])
    if o['evidence'] not in txt: err(f"{o['id']} evidence not in {o['city']} report: {o['evidence']}")
    if not o['answer_keys']: err(f"{o['id']} no answer_keys")
    for k in o['answer_keys']:
        if k not in o['evidence']: err(f"{o['id']} key {k} not in evidence")
# distribution constraints
ca = collections.Counter(o['city'] for o in A); cs = collections.Counter(o['city'] for o in S)
if len(A) != 20: err(f'absent count {len(A)} != 20')
if len(S) != 10: err(f'single count {len(S)} != 10')
if len(ca) < 9: err('absent spans < 9 cities')
if max(ca.values()) > 3: err('absent >3 per city')
if len(cs) < 7: err('single spans < 7 cities')
# re-read: every report line with the indicator's wordings
print('\n==== absent re-read ====')
for o in A:
    ws = WORDS.get(o['indicator'], [o['indicator']])
    print(f"\n--- {o['id']} [{o['trap']}] {o['city']} {o['indicator']} {o['period']} {o['kind']} | Q: {o['question']}\n    related: {o['related']}")
    for i, l in enumerate(R[o['city']]):
        if any(w in l for w in ws):
            if FULL: print(f'  L{i}: {l}'); continue
            spans = sorted(set(m.start() for w in ws for m in re.finditer(re.escape(w), l)))
            for s in spans:
                print(f'  L{i}: ..{l[max(0,s-70):s+90]}..')
print('\n==== counts ====')
print('trap:', dict(collections.Counter(o['trap'] for o in A)))
print('kind absent:', dict(collections.Counter(o['kind'] for o in A)), '| kind single:', dict(collections.Counter(o['kind'] for o in S)))
print('period absent:', dict(collections.Counter(o['period'] for o in A)), '| period single:', dict(collections.Counter(o['period'] for o in S)))
print('city absent:', dict(ca)); print('city single:', dict(cs))
print('\nRESULT:', 'PASS' if not errs else f'FAIL ({len(errs)} errors)')
sys.exit(1 if errs else 0)
