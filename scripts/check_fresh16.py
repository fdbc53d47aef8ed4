#!/usr/bin/env python3
"""Checker for fresh16 annotation files (stdlib only)."""
import json, re, sys, os
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'eval')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import (  # noqa: E402  (one report split, schema and the earlier rounds' combinations)
    ABSENT_FIELDS as ABS_KEYS, QUESTION_KINDS as KINDS, SINGLE_FIELDS as SGL_KEYS, TRAPS, combos_before, report_texts)
CITIES=set('宁波市 沁阳市 泉州市 汕尾市 商洛市 铜川市 渭南市 温州市 咸阳市 忻州市 珠海市 资兴市'.split())
WORDS={
 "一般公共预算收入":["一般公共预算","财政收入","预算收入","财政总收入","地方财政"],
 "金融机构存款余额":["存款","存贷款","增存"],
 "规模以上工业增加值":["工业增加值","规上工业","规模以上工业","规工"],
 "实际使用外资":["外资","内外资","外商"],
 "民间投资":["民间投资","民间资本"],
 "制造业投资":["制造业投资","工业投资"],
 "出口总额":["出口","外贸"],
 "旅游收入":["旅游收入","旅游总收入","旅游综合收入","游客"],
 "研发经费投入强度":["研发","R&D","研究与试验","占GDP比重"],
 "全体居民人均可支配收入":["可支配收入","居民收入","收入倍差"],
 "规模以上工业总产值":["工业总产值","产值"],
 "房地产开发投资":["房地产","商品房"],
 "一般公共预算支出":["一般公共预算支出","财政支出","预算支出"],
 "税收收入":["税收","税金","财税"],
 "技术合同成交额":["技术合同","技术交易"],
 "粮食总产量":["粮食","产量"],
 "民生支出":["民生"],
 "跨境电商进出口额":["跨境电商","跨境"],
}
def split_reports():
    return report_texts()
def main():
    reps=split_reports()
    errs=[]
    assert len(reps)==24, len(reps)
    used={(c, i, str(p), k) for c, i, p, k in combos_before('fresh16')}
    ids=set(); mine=set()
    for fn,keys,typ,pre in [('facts_fresh16_absent.jsonl',ABS_KEYS,'absent','abs16-'),('facts_fresh16_single.jsonl',SGL_KEYS,'single','sgl16-')]:
        rows=[json.loads(l) for l in open(os.path.join(HERE,fn),encoding='utf-8') if l.strip()]
        print(f'== {fn}: {len(rows)} rows')
        for n,r in enumerate(rows,1):
            tag=r.get('id')
            if list(r.keys())!=keys: errs.append(f'{tag}: key order {list(r.keys())}')
            if r['id']!=f'{pre}{n:03d}': errs.append(f'{tag}: id sequence')
            if r['id'] in ids: errs.append(f'{tag}: dup id')
            ids.add(r['id'])
            if r['type']!=typ or r['split']!='fresh16': errs.append(f'{tag}: type/split')
            if r['city'] not in CITIES: errs.append(f'{tag}: city not mine')
            if r['period'] not in ('2022','2023'): errs.append(f'{tag}: period')
            if r['kind'] not in ('amount','growth','share','count'): errs.append(f'{tag}: kind')
            tup=(r['city'],r['indicator'],r['period'],r['kind'])
            if tup in used: errs.append(f'{tag}: tuple reused {tup}')
            if tup in mine: errs.append(f'{tag}: tuple duplicated within my files {tup}')
            mine.add(tup)
            rep=reps[r['city']]
            if typ=='absent':
                if r['answer_keys']!=[]: errs.append(f'{tag}: answer_keys not empty')
                if r['trap'] not in TRAPS: errs.append(f'{tag}: trap')
                if r['related'] not in rep: errs.append(f'{tag}: related not in {r["city"]} report')
                print(f'\n--- {tag} [{r["trap"]}] {r["city"]} {r["indicator"]} {r["period"]} {r["kind"]}: {r["question"]}')
                ws=WORDS.get(r['indicator'],[r['indicator']])
                for s in re.split(r'(?<=[。；;!！])',rep):
                    if any(w in s for w in ws):
                        print('   >', s.strip().replace('\n',' '))
            else:
                if not r['answer_keys']: errs.append(f'{tag}: no answer keys')
                if r['evidence'] not in rep: errs.append(f'{tag}: evidence not in {r["city"]} report')
                for a in r['answer_keys']:
                    if a not in r['evidence']: errs.append(f'{tag}: key {a} not in evidence')
    from collections import Counter
    ab=[json.loads(l) for l in open(os.path.join(HERE,'facts_fresh16_absent.jsonl'),encoding='utf-8')]
    sg=[json.loads(l) for l in open(os.path.join(HERE,'facts_fresh16_single.jsonl'),encoding='utf-8')]
    ca=Counter(r['city'] for r in ab)
    if len(ab)!=20: errs.append('absent count != 20')
    if len(sg)!=10: errs.append('single count != 10')
    if len(ca)<9: errs.append('absent cities < 9')
    if max(ca.values())>3: errs.append('absent >3 per city')
    if len(set(r['city'] for r in sg))<7: errs.append('single cities < 7')
    print('\nabsent by trap', dict(Counter(r['trap'] for r in ab)))
    print('absent by kind', dict(Counter(r['kind'] for r in ab)))
    print('absent by city', dict(ca))
    print('single by kind', dict(Counter(r['kind'] for r in sg)))
    print('single by city', dict(Counter(r['city'] for r in sg)))
    print('\nERRORS:' if errs else '\nALL CHECKS PASSED')
    for e in errs: print('  ',e)
    sys.exit(1 if errs else 0)
main()
