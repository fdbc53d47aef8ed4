"""Check the everyday-word unanswerable sets (stdlib only; does not import qa).

For eval/unanswerable_fresh.jsonl, unanswerable_fresh2.jsonl and unanswerable_fresh3.jsonl (or the files given): fields, unique ids,
split, that each question names its city, that every `near` is an exact substring of its city's report, that an
"other period" `near` lies in the part of the report about the other year, and that no question repeats another
eval set; then prints each place of the city's report holding the question's keywords (kept here only, chosen by
the sets' annotators, who never ran the system), for re-reading by hand. `-q`: errors and counts only.
Usage: python scripts/check_unanswerable_fresh.py [-q] [FILE ...]
"""
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_facts_gold import read_jsonl, report_texts  # noqa: E402  (the same report split, no qa import)

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "eval" / f"unanswerable_fresh{n}.jsonl" for n in ("", "2", "3")]
FIELDS = ["id", "city", "type", "question", "answer", "answer_keys", "evidence", "split", "near"]
TRAPS = {"other period", "other unit", "other thing", "no number", "none"}
PLAN_HEAD = re.compile(r"二、\s*2023年|三、2023年重点工作|2023年(?:重点)?工作安排|2023年目标任务|做好2023年工作")
KW = {
    'u12-彬州-01': ['停车', '车位'],
    'u12-彬州-02': ['原煤', '煤炭产量', '万吨'],
    'u12-邯郸-01': ['电梯', '加装'],
    'u12-邯郸-02': ['电动', '充电', '消防'],
    'u12-泸州-01': ['电梯', '补贴', '补助'],
    'u12-泸州-02': ['白酒', '千升', '酒业'],
    'u12-茂名-01': ['图书', '书房', '阅读'],
    'u12-茂名-02': ['荔枝', '销售额'],
    'u12-梅州-01': ['停车', '车位', '泊位'],
    'u12-梅州-02': ['柚'],
    'u12-南宁-01': ['充电'],
    'u12-南宁-02': ['网约', '出租', '客运'],
    'u12-高安-01': ['充电'],
    'u12-高安-02': ['消费券'],
    'u12-咸阳-01': ['充电'],
    'u12-咸阳-02': ['物业', '小区'],
    'u12-忻州-01': ['购房', '契税', '户'],
    'u12-汕尾-01': ['购房', '套'],
    'u12-汕尾-02': ['消费券', '促消费'],
    'u12-临沧-01': ['公交', '公共交通', '线路'],
    'u12-临沧-02': ['茶', '产量'],
    'u12-临沧-03': ['噪', '扰民', '声'],
    'u12-金华-01': ['公园', '绿地'],
    'u12-金华-02': ['停车', '车位', '拥堵'],
    'u12-沁阳-01': ['健身', '体育', '运动'],
    'u12-泉州-01': ['幼儿园'],
    'u12-泉州-02': ['近视', '视力', '体育'],
    'u12-渭南-01': ['最低工资'],
    'u12-渭南-02': ['预付', '消费者', '跑路'],
    'u12-温州-01': ['最低生活', '低保'],
    'u12-铜川-01': ['停车', '车位'],
    'u12-珠海-01': ['电梯'],
    'u12-龙南-01': ['民宿'],
    'u12-乐昌-01': ['停车', '车位'],
    'u12-商洛-01': ['学位', '学校'],
    'u12-河源-01': ['厕所'],
    'u12-河源-02': ['彩礼', '婚', '移风易俗'],
    'u12-宁波-01': ['公厕', '厕所'],
    'u12-宁波-02': ['犬', '宠物', '养狗'],
    'u12-资兴-01': ['停车', '车位', '停放', '拥堵'],
    'u13-彬州-01': ['养老中心', '镇级'],
    'u13-彬州-02': ['便民餐厅', '餐厅'],
    'u13-彬州-03': ['5G', '基站', '通信'],
    'u13-高安-01': ['停车'],
    'u13-邯郸-01': ['床位', '养老'],
    'u13-邯郸-02': ['泊位', '停车', '车位'],
    'u13-河源-01': ['饭堂', '助餐', '食堂'],
    'u13-河源-02': ['停车', '车位'],
    'u13-金华-01': ['高龄', '津贴', '80周岁'],
    'u13-金华-02': ['老旧小区', '惠及'],
    'u13-金华-03': ['菜', '价格', '物价'],
    'u13-临沧-01': ['公积金', '缴存'],
    'u13-临沧-02': ['充电', '新能源汽车', '充换电'],
    'u13-龙南-01': ['床位', '养老'],
    'u13-龙南-02': ['电梯'],
    'u13-龙南-03': ['群租', '出租', '消防'],
    'u13-泸州-01': ['老旧小区', '户'],
    'u13-茂名-01': ['停车', '车位', '泊位'],
    'u13-茂名-02': ['高空', '抛物', '坠物'],
    'u13-梅州-01': ['老旧小区'],
    'u13-梅州-02': ['公交', '公共交通', '客运'],
    'u13-南宁-01': ['停车', '车位', '泊位'],
    'u13-宁波-01': ['共有产权'],
    'u13-沁阳-01': ['日间照料', '照料中心'],
    'u13-沁阳-02': ['5G', '基站', '通信'],
    'u13-沁阳-03': ['犬', '狗', '宠物'],
    'u13-泉州-01': ['棚户', '棚改'],
    'u13-泉州-02': ['电梯'],
    'u13-泉州-03': ['单车', '停放', '非机动车'],
    'u13-汕尾-01': ['充电', '新能源汽车'],
    'u13-汕尾-02': ['校车', '接送', '上学'],
    'u13-铜川-01': ['见习', '基地'],
    'u13-铜川-02': ['充电', '停车'],
    'u13-渭南-01': ['充电', '新能源'],
    'u13-渭南-02': ['停车', '车位'],
    'u13-渭南-03': ['智能手机', '老年', '手机'],
    'u13-咸阳-01': ['幸福院', '互助'],
    'u13-咸阳-02': ['养老服务中心', '床位'],
    'u13-珠海-01': ['智慧停车', '停车场'],
    'u13-珠海-02': ['公交', '夜班', '专线'],
    'u21-彬州-01': ['水果', '果', '产量'],
    'u21-彬州-02': ['电动', '火灾', '消防'],
    'u21-高安-01': ['油菜'],
    'u21-高安-02': ['养老金', '养老保险'],
    'u21-高安-03': ['单车', '自行车', '骑行'],
    'u21-邯郸-01': ['PM2.5', '细颗粒物', '空气质量'],
    'u21-邯郸-02': ['午餐', '餐'],
    'u21-邯郸-03': ['垃圾', '分类', '环卫'],
    'u21-河源-01': ['猪', '出栏'],
    'u21-河源-02': ['充电'],
    'u21-金华-01': ['跨境电商'],
    'u21-乐昌-01': ['柰李', '李'],
    'u21-临沧-01': ['坚果'],
    'u21-龙南-01': ['脐橙'],
    'u21-泸州-01': ['托'],
    'u21-茂名-01': ['荔枝'],
    'u21-茂名-02': ['5G', '基站'],
    'u21-南宁-01': ['商品房', '销售额'],
    'u21-南宁-02': ['沃柑'],
    'u21-宁波-01': ['跨境电商'],
    'u21-宁波-02': ['消费券', '拉动', '带动消费'],
    'u21-沁阳-01': ['山药'],
    'u21-沁阳-02': ['托育', '托位', '婴幼儿'],
    'u21-泉州-01': ['茶'],
    'u21-汕尾-01': ['噪', '扰民'],
    'u21-商洛-01': ['木耳', '食用菌'],
    'u21-商洛-02': ['停车', '车位', '泊位'],
    'u21-铜川-01': ['苹果', '水果', '果品'],
    'u21-铜川-02': ['托位', '托育', '婴幼儿'],
    'u21-渭南-01': ['游客', '人次', '旅游'],
    'u21-渭南-02': ['床位', '养老'],
    'u21-温州-01': ['托位', '托育', '婴幼儿'],
    'u21-咸阳-01': ['日间照料', '照料'],
    'u21-咸阳-02': ['5G', '基站'],
    'u21-忻州-01': ['焦炭', '焦'],
    'u21-忻州-02': ['充电', '电动汽车', '新能源汽车'],
    'u21-珠海-01': ['鲈', '产值'],
    'u21-珠海-02': ['单车', '自行车', '骑行'],
    'u21-资兴-01': ['停车', '车位', '泊位'],
    'u21-资兴-02': ['充电', '新能源汽车', '电动汽车'],
}


def norm(q: str) -> str:
    return re.sub(r"[\s？?！!。，,、：:（）()“”\"]", "", q)


def earlier_questions(skip: set[Path]) -> set[str]:
    seen = set()
    for path in sorted((ROOT / "eval").glob("*.jsonl")):
        if path.resolve() in skip:
            continue
        for rec in read_jsonl(path)[0]:
            turns = [t.get("question") if isinstance(t, dict) else t for t in rec.get("turns") or []]
            seen.update(norm(q) for q in [rec.get("question"), *turns] if isinstance(q, str) and q)
    return seen


def check(rec: dict, reps: dict, seen: set) -> list[str]:
    errs = []
    fields = FIELDS + (["trap"] if "trap" in rec else [])
    if list(rec) != fields:
        return [f"fields {list(rec)}"]
    if rec["type"] != "unanswerable" or rec["answer"] or rec["answer_keys"] or rec["evidence"]:
        errs.append("answer fields must be empty")
    if rec["split"] != "untouched":
        errs.append("split is not untouched")
    text = reps.get(rec["city"])
    if text is None:
        return errs + [f"unknown city {rec['city']}"]
    if rec["city"][:-1] not in rec["question"]:
        errs.append("question does not name its city")
    near, trap = rec["near"], rec.get("trap")
    if near and near not in text:
        errs.append("near is not in the city's report")
    if trap is not None and (trap not in TRAPS or (trap == "none") != (near == "")):
        errs.append(f"trap {trap!r} does not fit near")
    if trap == "other period" and near in text:
        plan = PLAN_HEAD.search(text)
        in_plan = plan is not None and text.find(near) >= plan.start()
        asks_past = bool(re.search("去年|2022", rec["question"]))
        if asks_past == bool(re.search("今年|2023", rec["question"])) or asks_past != in_plan:
            errs.append("near is not in the other year's part")
    if norm(rec["question"]) in seen:
        errs.append("question repeats another eval set")
    if rec["id"] not in KW:
        errs.append("no keywords")
    return errs


def main(argv: list[str]) -> int:
    quiet = "-q" in argv
    files = [Path(a) for a in argv if a != "-q"] or FILES
    reps = report_texts()
    seen = earlier_questions({f.resolve() for f in files})
    errors, ids, cities = 0, Counter(), Counter()
    for path in files:
        rows, bad = read_jsonl(path)
        for msg in bad:
            print(f"{path.name}: {msg}")
        errors += len(bad)
        for rec in rows:
            ids[rec.get("id")] += 1
            cities[rec.get("city")] += 1
            for msg in check(rec, reps, seen):
                print(f"{path.name} {rec.get('id')}: {msg}")
                errors += 1
            text = reps.get(rec.get("city"), "")
            if quiet or not text:
                continue
            print(f"\n=== {rec['id']} [{rec.get('trap', '')}] {rec['question']}\n    near: {rec['near']}")
            plan = PLAN_HEAD.search(text)
            for word in KW.get(rec["id"], []):
                for m in re.finditer(re.escape(word), text):
                    part = "2023" if plan and m.start() >= plan.start() else "2022"
                    print(f"    {part} {word}: …{text[max(0, m.start() - 45):m.start() + 55].replace(chr(10), '/')}…")
    dupes = [i for i, n in ids.items() if n > 1]
    if dupes:
        print(f"duplicate ids: {dupes}")
        errors += len(dupes)
    print(f"{sum(ids.values())} questions, {len(cities)} cities, at most {max(cities.values(), default=0)} per city; {errors} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
