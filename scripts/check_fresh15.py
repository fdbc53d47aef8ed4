#!/usr/bin/env python3
"""Checker for fresh15 question files (stdlib only)."""
import json, re, sys, os
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'eval')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import (  # noqa: E402  (one report split, schema and the earlier rounds' combinations)
    ABSENT_FIELDS as ABS_FIELDS, QUESTION_KINDS as KINDS, SINGLE_FIELDS as SGL_FIELDS, TRAPS, combos_before, report_texts)
MY_CITIES={'彬州市','高安市','邯郸市','河源市','金华市','乐昌市','临沧市','龙南市','泸州市','茂名市','梅州市','南宁市'}
WORDS={
 '地区生产总值':['生产总值','GDP','经济增'],
 '一般公共预算收入':['预算收入','财政收入','地方财政'],
 '社会消费品零售总额':['社会消费品','社零','零售'],
 '进出口总额':['进出口','外贸','进口','出口'],
 '出口总额':['出口'],
 '固定资产投资':['固定资产投资','固投','完成投资','投资'],
 '规模以上工业增加值':['工业增加值','规上工业','规模以上工业'],
 '实际使用外资':['外资','外商'],
 '全体居民人均可支配收入':['可支配收入','居民收入'],
 '城镇居民人均可支配收入':['可支配收入','居民收入','城镇居民','城镇常住'],
 '农村居民人均可支配收入':['可支配收入','居民收入','农民收入','农村居民','收入倍差'],
 '粮食总产量':['粮食','稻谷','亿斤'],
 '旅游收入':['旅游','游客','文旅'],
 '招商引资':['招商','到位资金'],
 '金融机构存款余额':['存款','存贷','贷存','余额'],
 '金融机构贷款余额':['贷款','存贷','贷存','余额'],
 '研发经费投入强度':['研发','R&D','研究与试验'],
 '建筑业总产值':['建筑业'],
}
def reports():
    return report_texts()
def main():
    R=reports(); errs=[]
    U={(c, i, str(p), k) for c, i, p, k in combos_before('fresh15')}
    ids=set(); tuples=set()
    verbose='-q' not in sys.argv
    for fn,fields,typ in [('facts_fresh15_absent.jsonl',ABS_FIELDS,'absent'),('facts_fresh15_single.jsonl',SGL_FIELDS,'single')]:
        for n,line in enumerate(open(os.path.join(HERE,fn),encoding='utf-8'),1):
            try: d=json.loads(line)
            except Exception as e: errs.append(f'{fn}:{n} bad json {e}'); continue
            tag=f'{fn}:{n} {d.get("id")}'
            if list(d.keys())!=fields: errs.append(f'{tag} field order {list(d.keys())}')
            if d['type']!=typ: errs.append(f'{tag} type')
            if d['split']!='fresh15': errs.append(f'{tag} split')
            pre='abs15-' if typ=='absent' else 'sgl15-'
            if not re.fullmatch(re.escape(pre)+r'\d{3}',d['id']): errs.append(f'{tag} id format')
            if d['id'] in ids: errs.append(f'{tag} dup id')
            ids.add(d['id'])
            if d['city'] not in MY_CITIES: errs.append(f'{tag} city not mine')
            if d['period'] not in ('2022','2023'): errs.append(f'{tag} period')
            if d['kind'] not in KINDS: errs.append(f'{tag} kind')
            t=(d['city'],d['indicator'],d['period'],d['kind'])
            if t in U: errs.append(f'{tag} tuple reused {t}')
            if t in tuples: errs.append(f'{tag} tuple duplicated in my files {t}')
            tuples.add(t)
            txt=R.get(d['city'],'')
            if typ=='absent':
                if d['answer_keys']!=[]: errs.append(f'{tag} answer_keys not empty')
                if d['trap'] not in TRAPS: errs.append(f'{tag} trap')
                if d['related'] not in txt: errs.append(f'{tag} related not in report: {d["related"]}')
                if verbose:
                    print(f'\n### {d["id"]} {d["city"]} {d["indicator"]} {d["period"]} {d["kind"]} [{d["trap"]}] Q: {d["question"]}')
                    ws=WORDS.get(d['indicator'],[d['indicator']])
                    for s in re.split(r'(?<=[。；;])',txt):
                        hit=[w for w in ws if w in s]
                        if hit: print('   ',s.strip().replace('\n',' ')[:300])
            else:
                if not d['answer_keys']: errs.append(f'{tag} no answer key')
                if d['evidence'] not in txt: errs.append(f'{tag} evidence not in report')
                for k in d['answer_keys']:
                    if k not in d['evidence']: errs.append(f'{tag} key {k} not in evidence')
    print('\nERRORS:' if errs else '\nALL CHECKS PASSED')
    for e in errs: print(' ',e)
    return 1 if errs else 0
if __name__=='__main__': sys.exit(main())
