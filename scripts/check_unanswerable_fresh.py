#!/usr/bin/env python3
"""Check eval/unanswerable_fresh.jsonl (stdlib only; does not import qa): fields, ids, split, that every `near` is an
exact substring of its city's report and no question repeats another eval set; then prints each line of the city's
report holding the question's keywords (kept here only), for re-reading by hand.
Written by the set's annotator, who never ran the system. Usage: python scripts/check_unanswerable_fresh.py [-q]
"""
import json, re, glob, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

REPORT = ROOT / 'data/reports/2023_city_reports.txt'
QFILE = ROOT / 'eval/unanswerable_fresh.jsonl'
FIELDS = ["id","city","type","question","answer","answer_keys","evidence","split","near"]

# keywords per id (kept here only)
KW = {
 "u12-彬州-01": ["停车","车位"],
 "u12-彬州-02": ["原煤","煤炭产量","万吨"],
 "u12-邯郸-01": ["电梯","加装"],
 "u12-邯郸-02": ["电动","充电","消防"],
 "u12-泸州-01": ["电梯","补贴","补助"],
 "u12-泸州-02": ["白酒","千升","酒业"],
 "u12-茂名-01": ["图书","书房","阅读"],
 "u12-茂名-02": ["荔枝","销售额"],
 "u12-梅州-01": ["停车","车位","泊位"],
 "u12-梅州-02": ["柚"],
 "u12-南宁-01": ["充电"],
 "u12-南宁-02": ["网约","出租","客运"],
 "u12-高安-01": ["充电"],
 "u12-高安-02": ["消费券"],
 "u12-咸阳-01": ["充电"],
 "u12-咸阳-02": ["物业","小区"],
 "u12-忻州-01": ["购房","契税","户"],
 "u12-汕尾-01": ["购房","套"],
 "u12-汕尾-02": ["消费券","促消费"],
 "u12-临沧-01": ["公交","公共交通","线路"],
 "u12-临沧-02": ["茶","产量"],
 "u12-临沧-03": ["噪","扰民","声"],
 "u12-金华-01": ["公园","绿地"],
 "u12-金华-02": ["停车","车位","拥堵"],
 "u12-沁阳-01": ["健身","体育","运动"],
 "u12-泉州-01": ["幼儿园"],
 "u12-泉州-02": ["近视","视力","体育"],
 "u12-渭南-01": ["最低工资"],
 "u12-渭南-02": ["预付","消费者","跑路"],
 "u12-温州-01": ["最低生活","低保"],
 "u12-铜川-01": ["停车","车位"],
 "u12-珠海-01": ["电梯"],
 "u12-龙南-01": ["民宿"],
 "u12-乐昌-01": ["停车","车位"],
 "u12-商洛-01": ["学位","学校"],
 "u12-河源-01": ["厕所"],
 "u12-河源-02": ["彩礼","婚","移风易俗"],
 "u12-宁波-01": ["公厕","厕所"],
 "u12-宁波-02": ["犬","宠物","养狗"],
 "u12-资兴-01": ["停车","车位","停放","拥堵"],
}

def split_reports():
    lines = open(REPORT, encoding='utf-8').read().split('\n')
    idx = [i for i, l in enumerate(lines) if re.match(r'^\s*2023年.*市(人民)?政府工作报告\s*$', l)]
    reps = {}
    for k, i in enumerate(idx):
        j = idx[k+1] if k+1 < len(idx) else len(lines)
        c = re.match(r'^\s*2023年(.*?市)(人民)?政府工作报告', lines[i]).group(1)
        reps[c] = (i, lines[i:j])
    return reps

def norm(q):
    return re.sub(r'[\s？?！!。，,、：:（）()“”"]', '', q)

def main():
    reps = split_reports()
    assert len(reps) == 24, len(reps)
    old = set()
    for f in glob.glob(str(ROOT / 'eval/*.jsonl')):
        for l in open(f, encoding='utf-8'):
            l = l.strip()
            if not l: continue
            d = json.loads(l)
            if Path(f).name == QFILE.name: continue
            for q in ([d.get('question')] + [t.get('question') if isinstance(t, dict) else t for t in d.get('turns', []) or []]):
                if isinstance(q, str) and q: old.add(norm(q))
    errs = 0; ids = set(); rows = []
    for n, l in enumerate(open(QFILE, encoding='utf-8'), 1):
        d = json.loads(l)
        def bad(msg):
            nonlocal errs; errs += 1; print(f'ERROR line {n} {d.get("id")}: {msg}')
        if list(d.keys()) != FIELDS: bad(f'fields {list(d.keys())}')
        if d['id'] in ids: bad('duplicate id')
        ids.add(d['id'])
        if d['split'] != 'untouched': bad('split')
        if d['type'] != 'unanswerable' or d['answer'] != '' or d['answer_keys'] != [] or d['evidence'] != '': bad('answer fields')
        if d['city'] not in reps: bad('unknown city'); continue
        short = d['city'][:-1]
        if not d['id'].startswith(f'u12-{short}-'): bad('id/city mismatch')
        if short not in d['question'] and d['city'] not in d['question']: bad('city not in question')
        text = '\n'.join(reps[d['city']][1])
        if d['near'] and d['near'] not in text: bad('near not substring of city report')
        if norm(d['question']) in old: bad('question repeated from eval')
        if d['id'] not in KW: bad('no keywords')
        rows.append(d)
    # print hits
    for d in rows if '-q' not in sys.argv else []:
        start, lines = reps[d['city']]
        print(f"\n=== {d['id']} {d['question']}  near={d['near'][:40]!r}")
        # locate plan section start (heading mentioning 2023 work)
        for li, line in enumerate(lines):
            sents = re.split(r'(?<=[。；;!！])', line)
            for s in sents:
                ks = [k for k in KW.get(d['id'], []) if k in s]
                if ks:
                    print(f"  L{start+li+1} {ks}: {s.strip()[:220]}")
    counts = {}
    for d in rows: counts[d['city']] = counts.get(d['city'], 0) + 1
    print('\ncities', len(counts), 'max per city', max(counts.values()))
    print('total', len(rows), 'errors', errs)
    return errs

if __name__ == '__main__':
    sys.exit(1 if main() else 0)
