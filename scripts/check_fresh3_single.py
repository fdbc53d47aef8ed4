#!/usr/bin/env python3
"""Checker for facts_fresh3_single.jsonl (stdlib only)."""
import sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import earlier_combos, read_jsonl, report_texts  # noqa: E402  (one report split for every checker)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, 'eval', 'facts_fresh3_single.jsonl')
EARLIER = ['facts_single', 'facts_fresh_single']
FIELDS = ["id","type","question","city","indicator","period","kind","answer_keys","evidence","split"]
KINDS = {"amount","growth","share","count"}

def main():
    reps = report_texts()
    used = earlier_combos(EARLIER)
    rows, errs = read_jsonl(DATA)
    ids = set()
    for r in rows:
        rid = r.get('id')
        if list(r.keys()) != FIELDS: errs.append(f'{rid}: fields {list(r.keys())}')
        if rid in ids: errs.append(f'{rid}: duplicate id')
        ids.add(rid)
        if r.get('type') != 'single': errs.append(f'{rid}: type')
        if r.get('split') != 'fresh3': errs.append(f'{rid}: split')
        if r.get('period') not in ('2022', '2023'): errs.append(f'{rid}: period')
        if r.get('kind') not in KINDS: errs.append(f'{rid}: kind')
        if not r.get('question'): errs.append(f'{rid}: empty question')
        keys = r.get('answer_keys')
        if not isinstance(keys, list) or not keys: errs.append(f'{rid}: answer_keys'); keys = []
        city, ev = r.get('city'), r.get('evidence', '')
        if city not in reps:
            errs.append(f'{rid}: unknown city {city}')
        elif not ev or ev not in reps[city]:
            errs.append(f'{rid}: evidence not in {city} report')
        for k in keys:
            if k not in ev: errs.append(f'{rid}: key {k} not in evidence')
        t = (r.get('city'), r.get('indicator'), r.get('period'), r.get('kind'))
        if t in used: errs.append(f'{rid}: reuses used tuple {t}')
    tuples = [(r['city'], r['indicator'], r['period'], r['kind']) for r in rows]
    if len(set(tuples)) != len(tuples): errs.append('duplicate (city,indicator,period,kind) within file')
    print(f'{len(rows)} rows, {len({r["city"] for r in rows})} cities, {len({r["indicator"] for r in rows})} indicators')
    for e in errs: print('ERROR', e)
    print('PASS' if not errs else f'FAIL ({len(errs)} errors)')
    return 0 if not errs else 1

if __name__ == '__main__':
    sys.exit(main())
