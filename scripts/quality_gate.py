"""CI's quality gate: answer and retrieval accuracy on the dev questions must stay within a stated
margin of the figures recorded in eval/baseline.json.

    python scripts/quality_gate.py            # evaluate (python -m qa eval FILE --json) and compare
    python scripts/quality_gate.py --record   # write the current figures as the new baseline

Runs `python -m qa eval` exactly as a user would, on the default knowledge base (built from
data/reports on first use, about 80 s). A metric fails when it falls more than `margin` below
its recorded value (false refusals: rises more than `margin` above). The margin, 0.03, is about
3 of dev's ~100 answerable questions: a change that moves one or two answers passes, a real drop
fails. Record a new baseline only with a change that is meant to move the numbers, and say so
in its commit.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "eval" / "baseline.json"
HIGHER_IS_BETTER = {
    "retrieval": ("hit@1", "hit@5", "mrr@10"),
    "answers": ("answer_accuracy", "citation_correctness", "refusal_recall"),
}
LOWER_IS_BETTER = {"answers": ("false_refusals",)}


def evaluate(question_file: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "qa", "eval", question_file, "--json"], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"quality gate: `python -m qa eval {question_file}` failed:\n{out.stderr[-3000:]}")
    report = json.loads(out.stdout)
    return {"retrieval": {k: round(report["retrieval"]["overall"][k], 4) for k in HIGHER_IS_BETTER["retrieval"]},
            "answers": {k: round(report["answers"][k], 4) for k in (*HIGHER_IS_BETTER["answers"], *LOWER_IS_BETTER["answers"])}}


def failures(baseline: dict, now: dict) -> list[str]:
    margin = baseline["margin"]
    bad = []
    for part, keys in HIGHER_IS_BETTER.items():
        for key in keys:
            if now[part][key] < baseline[part][key] - margin:
                bad.append(f"{part} {key}: {now[part][key]:.3f} < {baseline[part][key]:.3f} - {margin}")
    for part, keys in LOWER_IS_BETTER.items():
        for key in keys:
            if now[part][key] > baseline[part][key] + margin:
                bad.append(f"{part} {key}: {now[part][key]:.3f} > {baseline[part][key]:.3f} + {margin}")
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write the current figures to eval/baseline.json")
    args = parser.parse_args(argv)
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    now = evaluate(baseline["file"])
    if args.record:
        BASELINE.write_text(json.dumps({**baseline, **now}, indent=1) + "\n", encoding="utf-8")
        print(f"recorded {now}")
        return 0
    bad = failures(baseline, now)
    for part in HIGHER_IS_BETTER:
        print(f"quality gate {part}: " + ", ".join(f"{k} {v:.3f} (baseline {baseline[part][k]:.3f})" for k, v in now[part].items()))
    if bad:
        print("quality gate FAILED (margin %.2f):\n  " % baseline["margin"] + "\n  ".join(bad))
        return 1
    print(f"quality gate passed (margin {baseline['margin']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
