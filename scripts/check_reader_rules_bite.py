"""Each generic-reader rule switched off in turn: its test in tests/test_generic_reader.py must fail.

    python scripts/check_reader_rules_bite.py
"""
import sys, pytest, qa.generic_answer as ga
cases = [("TITLE_IN_EVERY_SENTENCE", False, "subject_answers"), ("W_FUNCTION_PAIR", 1.0, "function_character"),
         ("TYPE_RULES", {"definition": True, "place": False}, "place_question"),
         ("TYPE_RULES", {"definition": False, "place": True}, "definition_question"),
         ("JOIN_ADJACENT", False, "quoted_as_one"), ("PREV_CONNECTIVE", False, "consequence"),
         ("NAMES_REQUIRED", False, "number_or_latin")]
for name, value, test in cases:
    old = getattr(ga, name); setattr(ga, name, value)
    rc = pytest.main(["-q", "-p", "no:cacheprovider", "tests/test_generic_reader.py", "-k", test])
    setattr(ga, name, old)
    print(f"== {name}={value}: {test} {'FAILS (good)' if rc else 'still passes (BAD)'}", flush=True)
