#!/usr/bin/env python3
"""Stdlib checker for facts_fresh11_absent.jsonl / facts_fresh11_single.jsonl (written by its annotator, who never ran the system)."""
import json, os, re, sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'eval')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import (  # noqa: E402  (one report split, schema and the earlier rounds' combinations)
    ABSENT_FIELDS as ABS_FIELDS, QUESTION_KINDS as KINDS, SINGLE_FIELDS as SGL_FIELDS, TRAPS, combos_before, report_texts)
CITIES = '彬州市 高安市 邯郸市 河源市 金华市 乐昌市 临沧市 龙南市 泸州市 茂名市 梅州市 南宁市'.split()
SPLIT, N = 'fresh11', 11

# wordings used to list every report line mentioning an indicator
WORDS = {
    '地区生产总值': ['生产总值', 'GDP'],
    '人均地区生产总值': ['人均GDP', '人均地区生产总值', '人均生产总值'],
    '一般公共预算收入': ['公共预算收入', '财政收入', '地方财政', '预算收入'],
    '一般公共预算支出': ['公共预算支出', '财政支出', '财政总支出'],
    '社会消费品零售总额': ['社会消费品', '社零', '消费品零售'],
    '进出口总额': ['进出口', '外贸'],
    '出口总额': ['出口'],
    '固定资产投资': ['固定资产投资', '固投', '投资'],
    '规模以上工业增加值': ['工业增加值', '规上工业', '规模以上工业'],
    '实际使用外资': ['外资', 'FDI', '外商'],
    '全体居民人均可支配收入': ['可支配收入', '居民收入'],
    '城镇居民人均可支配收入': ['可支配收入', '居民收入'],
    '农村居民人均可支配收入': ['可支配收入', '居民收入', '农民收入'],
    '粮食总产量': ['粮食'],
    '粮食播种面积': ['粮食', '播种面积'],
    '城镇新增就业': ['就业'],
    '高新技术企业': ['高新技术企业'],
    '民生支出': ['民生'],
    '招商引资': ['招商', '到位资金'],
    '农业总产值': ['农业总产值', '农林牧渔', '农业'],
    '研发经费投入强度': ['研发', 'R&D', '研究与试验', '强度'],
    '金融机构贷款余额': ['贷款', '存贷款'],
    '接待游客': ['游客', '接待', '旅游'],
    'PM2.5平均浓度': ['PM2.5', '空气'],
    '技术合同成交额': ['技术合同'],
}
ALIAS = {'居民人均可支配收入': '全体居民人均可支配收入', '旅游总收入': '旅游收入'}


def norm(ind):
    return ALIAS.get(ind, ind)


def load_reports():
    return {c: text.split('\n') for c, text in report_texts().items()}


def load_used():
    return {(c, norm(i), str(p), k) for c, i, p, k in combos_before(SPLIT)}




def main():
    rep = load_reports()
    used = load_used()
    errs = []
    ids = set()
    mine = set()
    quiet = '-q' in sys.argv
    for fn, fields, typ, prefix in [('facts_fresh11_absent.jsonl', ABS_FIELDS, 'absent', f'abs{N}-'),
                                    ('facts_fresh11_single.jsonl', SGL_FIELDS, 'single', f'sgl{N}-')]:
        for ln, raw in enumerate(open(os.path.join(HERE, fn), encoding='utf-8'), 1):
            where = f'{fn}:{ln}'
            try:
                d = json.loads(raw)
            except Exception as e:
                errs.append(f'{where} bad JSON {e}')
                continue
            if list(d.keys()) != fields:
                errs.append(f'{where} fields/order {list(d.keys())}')
            if not re.fullmatch(re.escape(prefix) + r'\d{3}', d.get('id', '')):
                errs.append(f'{where} bad id {d.get("id")}')
            if d.get('id') in ids:
                errs.append(f'{where} duplicate id {d["id"]}')
            ids.add(d.get('id'))
            if d.get('type') != typ or d.get('split') != SPLIT:
                errs.append(f'{where} type/split wrong')
            c = d.get('city')
            if c not in CITIES or c not in rep:
                errs.append(f'{where} city not allowed/not found {c}')
                continue
            text = '\n'.join(rep[c])
            if d['period'] not in ('2022', '2023'):
                errs.append(f'{where} period {d["period"]}')
            if d['kind'] not in KINDS:
                errs.append(f'{where} kind {d["kind"]}')
            tup = (c, norm(d['indicator']), d['period'], d['kind'])
            if tup in used:
                errs.append(f'{where} tuple already used {tup}')
            if tup in mine:
                errs.append(f'{where} tuple repeated in my files {tup}')
            mine.add(tup)
            if not d['question'] or (c not in d['question'] and c[:-1] not in d['question']):
                errs.append(f'{where} question does not name the city')
            if typ == 'absent':
                if d['answer_keys'] != []:
                    errs.append(f'{where} answer_keys must be []')
                if d['trap'] not in TRAPS:
                    errs.append(f'{where} trap {d["trap"]}')
                if d['related'] not in text:
                    errs.append(f'{where} related not in {c} report: {d["related"]}')
                for other, lines in rep.items():
                    if other != c and d['related'] in '\n'.join(lines):
                        print(f'  note {where}: related also occurs in {other}')
                if not quiet:
                    print(f'\n=== {d["id"]} {c} {d["indicator"]} {d["period"]} {d["kind"]} [{d["trap"]}] {d["question"]}')
                    print(f'    related: {d["related"]}')
                    ws = WORDS.get(d['indicator'], [d['indicator']])
                    for s in re.split(r'(?<=[。；;])', text):
                        if any(w in s for w in ws):
                            print('    |', s.strip()[:300])
            else:
                if not d['answer_keys'] or not isinstance(d['answer_keys'], list):
                    errs.append(f'{where} answer_keys empty')
                if d['evidence'] not in text:
                    errs.append(f'{where} evidence not in {c} report: {d["evidence"]}')
                for a in d['answer_keys']:
                    if a not in d['evidence']:
                        errs.append(f'{where} answer key {a} not in evidence')
    print('\n' + ('\n'.join(errs) if errs else 'ALL CHECKS PASSED'))
    return 1 if errs else 0


if __name__ == '__main__':
    sys.exit(main())
