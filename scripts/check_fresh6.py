#!/usr/bin/env python3
"""Checker for facts_fresh6_absent.jsonl / facts_fresh6_single.jsonl (stdlib only)."""
import json, re, sys, os
from collections import Counter
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import (  # noqa: E402  (one report split and schema for every checker)
    ABSENT_FIELDS as AF, QUESTION_KINDS as KINDS, SINGLE_FIELDS as SF, TRAPS, combos_before, report_texts)
HERE=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),'eval')
SPLIT='fresh6'
CITIES=['宁波市','沁阳市','泉州市','汕尾市','商洛市','铜川市','渭南市','温州市','咸阳市','忻州市','珠海市','资兴市']
# wordings of each indicator, used to print the lines of the report to re-read
W={
'地区生产总值':['地区生产总值','生产总值','GDP','经济总量','经济增长','经济增速'],
'一般公共预算收入':['一般公共预算收入','财政收入','财政总收入','一般公共预算总收入'],
'社会消费品零售总额':['社会消费品零售','社零','消费品零售','商品零售'],
'限额以上消费品零售额':['限上','限额以上','消费品零售','商品零售'],
'进出口总额':['进出口','外贸'],
'出口总额':['出口'],
'固定资产投资':['固定资产投资','固投','完成投资','投资增长','项目投资'],
'规模以上工业增加值':['工业增加值','规上工业','规模以上工业'],
'实际使用外资':['外资','外商'],
'全体居民人均可支配收入':['可支配收入','居民收入','城乡居民'],
'城镇居民人均可支配收入':['可支配收入','居民收入','城镇居民','城乡居民'],
'农村居民人均可支配收入':['可支配收入','居民收入','农村居民','农民','城乡居民'],
'粮食总产量':['粮食','粮油'],
'城镇新增就业':['就业'],
'城镇调查失业率':['失业率'],
'居民消费价格涨幅':['居民消费价格','CPI','物价'],
'单位GDP能耗':['能耗','能源','节能','降碳','约束性指标','污染物'],
'研发经费投入强度':['研发','R&D','研究与试验'],
'旅游收入':['旅游','游客'],
'接待游客':['游客','人次','旅游'],
'税收收入':['税收','税'],
'常住人口城镇化率':['城镇化'],
'高新技术企业':['高新技术企业','高企'],
'金融机构存款余额':['存款','存贷款'],
'金融机构贷款余额':['贷款','存贷款'],
'一般公共预算支出':['一般公共预算支出','财政支出'],
'民生支出':['民生支出','民生投入','一般公共预算支出','财政支出'],
'招商引资':['招商','到位资金','签约','引进内资','引进项目'],
'农业总产值':['农业总产值','农林牧渔'],
}
# names used in the earlier sets that mean the same indicator as ours
SYN={'旅游总收入':'旅游收入','旅游综合收入':'旅游收入','招商引资到位资金':'招商引资',
     '金融机构本外币存款余额':'金融机构存款余额','金融机构本外币贷款余额':'金融机构贷款余额',
     '居民人均可支配收入':'全体居民人均可支配收入','农林牧渔业总产值':'农业总产值',
     '限上消费品零售额':'限额以上消费品零售额'}
def norm(t): return (t[0],SYN.get(t[1],t[1]),t[2],t[3])

def main():
    R=report_texts(); errs=[]
    used={norm(t) for t in combos_before(SPLIT)}
    ids=set(); mine={}
    def rd(fn):
        out=[]
        for n,line in enumerate(open(os.path.join(HERE,fn),encoding='utf-8'),1):
            try: out.append(json.loads(line, object_pairs_hook=lambda kv: kv))
            except Exception as e: errs.append(f'{fn}:{n} bad json {e}')
        return out
    A=rd(f'facts_{SPLIT}_absent.jsonl'); S=rd(f'facts_{SPLIT}_single.jsonl')
    for fn,rows,fields,pref in ((f'absent',A,AF,'abs6-'),(f'single',S,SF,'sgl6-')):
        for n,kv in enumerate(rows,1):
            keys=[k for k,_ in kv]; d=dict(kv)
            where=f'{fn}#{n} {d.get("id")}'
            if keys!=fields: errs.append(f'{where}: fields/order {keys}')
            if d['id'] in ids: errs.append(f'{where}: duplicate id')
            ids.add(d['id'])
            if d['id']!=f'{pref}{n:03d}': errs.append(f'{where}: id not sequential')
            if d['type']!=fn: errs.append(f'{where}: type')
            if d['split']!=SPLIT: errs.append(f'{where}: split')
            if d['city'] not in CITIES: errs.append(f'{where}: city not allowed')
            if d['period'] not in ('2022','2023'): errs.append(f'{where}: period')
            if d['kind'] not in KINDS: errs.append(f'{where}: kind')
            rep=R.get(d['city'],'')
            t=norm((d['city'],d['indicator'],d['period'],d['kind']))
            if t in used: errs.append(f'{where}: tuple reused {t}')
            if t in mine: errs.append(f'{where}: tuple duplicated in my files with {mine[t]}')
            mine[t]=d['id']
            if fn=='absent':
                if d['answer_keys']!=[]: errs.append(f'{where}: answer_keys not empty')
                if d['trap'] not in TRAPS: errs.append(f'{where}: trap')
                if d['related'] not in rep: errs.append(f'{where}: related not in {d["city"]} report')
            else:
                if not d['answer_keys']: errs.append(f'{where}: no answer key')
                if d['evidence'] not in rep: errs.append(f'{where}: evidence not in {d["city"]} report')
                for a in d['answer_keys']:
                    if a not in d['evidence']: errs.append(f'{where}: key {a} not in evidence')
    # spread rules
    ca=Counter(dict(r)['city'] for r in A); cs=Counter(dict(r)['city'] for r in S)
    if len(A)!=30: errs.append(f'absent count {len(A)}')
    if len(S)!=20: errs.append(f'single count {len(S)}')
    if set(ca)!=set(CITIES): errs.append(f'absent cities missing {set(CITIES)-set(ca)}')
    if max(ca.values())>3: errs.append(f'>3 absent per city {ca}')
    if len(cs)<10: errs.append(f'single cities {len(cs)}<10')
    # print report lines for each absent item to re-read
    if '-q' not in sys.argv:
        for kv in A:
            d=dict(kv); rep=R[d['city']]
            ws=W.get(d['indicator'],[d['indicator']])
            print(f"\n##### {d['id']} {d['city']} {d['indicator']} {d['period']} {d['kind']} [{d['trap']}] Q={d['question']}")
            print(f"   related: {d['related']}")
            for s in re.split(r'(?<=[。；;！])|\n',rep):
                if any(w in s for w in ws): print('   -',s.strip())
    print('absent by trap:',dict(Counter(dict(r)['trap'] for r in A)))
    print('absent by kind:',dict(Counter(dict(r)['kind'] for r in A)))
    print('absent by period:',dict(Counter(dict(r)['period'] for r in A)))
    print('absent by city:',dict(ca))
    print('single by kind:',dict(Counter(dict(r)['kind'] for r in S)))
    print('single by period:',dict(Counter(dict(r)['period'] for r in S)))
    print('single by city:',dict(cs))
    if errs:
        print('\nFAIL'); [print(' ',e) for e in errs]; sys.exit(1)
    print('\nPASS')
main()
