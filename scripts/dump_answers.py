"""Every extractive answer of the question sets, to see whether a change moves any of them.

    python scripts/dump_answers.py before.json            # ask every question of eval/*.jsonl
    python scripts/dump_answers.py after.json --compare before.json
"""
from __future__ import annotations

import argparse
import glob
import json

import qa


def dump() -> dict:
    out = {}
    for path in sorted(glob.glob("eval/*.jsonl")):
        for line in open(path, encoding="utf-8"):
            if not line.strip():
                continue
            item = json.loads(line)
            turns = item["turns"] if "turns" in item else [item]
            history: list[tuple[str, str]] = []
            for i, turn in enumerate(turns):
                answer = qa.ask(turn["question"], history=list(history), mode="extractive")
                out[f"{path}:{item.get('id')}:{i}"] = [turn["question"], answer.refused, answer.text]
                history.append((turn["question"], answer.text))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--compare", help="an earlier dump")
    args = parser.parse_args()
    answers = dump()
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(answers, fh, ensure_ascii=False, indent=0)
    print(f"{len(answers)} answers -> {args.out}")
    if args.compare:
        with open(args.compare, encoding="utf-8") as fh:
            before = json.load(fh)
        changed = [k for k in answers if before.get(k) != answers[k]]
        print(f"{len(changed)} of {len(answers)} changed")
        for k in changed:
            print(k, before.get(k), "->", answers[k], sep="\n  ")


if __name__ == "__main__":
    main()
