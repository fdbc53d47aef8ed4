"""The CI quality gate's rule (scripts/quality_gate.py) and its recorded baseline."""
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("quality_gate", ROOT / "scripts" / "quality_gate.py")
gate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gate)


def test_the_baseline_is_recorded_for_every_gated_metric():
    baseline = json.loads((ROOT / "eval" / "baseline.json").read_text(encoding="utf-8"))
    assert (ROOT / baseline["file"]).exists() and 0 < baseline["margin"] <= 0.05
    for part, keys in {**gate.HIGHER_IS_BETTER}.items():
        assert all(0 < baseline[part][k] <= 1 for k in keys)
    assert 0 <= baseline["answers"]["false_refusals"] < 1


def test_a_drop_beyond_the_margin_fails_and_within_it_passes():
    baseline = {"margin": 0.03, "retrieval": {"hit@1": 0.9, "hit@5": 0.98, "mrr@10": 0.93},
                "answers": {"answer_accuracy": 0.93, "citation_correctness": 0.97, "refusal_recall": 0.9, "false_refusals": 0.02}}
    same = json.loads(json.dumps({k: v for k, v in baseline.items() if k != "margin"}))
    assert gate.failures(baseline, same) == []
    within = json.loads(json.dumps(same))
    within["answers"]["answer_accuracy"] = 0.905
    within["answers"]["false_refusals"] = 0.045
    assert gate.failures(baseline, within) == []
    dropped = json.loads(json.dumps(same))
    dropped["answers"]["answer_accuracy"] = 0.89
    dropped["retrieval"]["hit@1"] = 0.85
    dropped["answers"]["false_refusals"] = 0.06
    assert [f.split(":")[0] for f in gate.failures(baseline, dropped)] == ["retrieval hit@1", "answers answer_accuracy",
                                                                           "answers false_refusals"]
