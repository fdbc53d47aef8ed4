"""Settings: one from_env() reads every QA_* variable, and the README documents exactly those."""
import re
from pathlib import Path

import pytest

from qa.config import ConfigError, from_env

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_documents_every_setting_and_nothing_else():
    read = set(re.findall(r"QA_[A-Z_]+", (ROOT / "qa" / "config.py").read_text(encoding="utf-8")))
    documented = set(re.findall(r"QA_[A-Z_]+", (ROOT / "README.md").read_text(encoding="utf-8")))
    assert read == documented
    code = [p for p in (ROOT / "qa").rglob("*.py") if p.name != "config.py"] + list((ROOT / "embeddings").glob("*.py"))
    code.append(ROOT / "app.py")
    readers = [p.name for p in code if re.search(r"environ(?:\.get)?[\[(]\s*['\"]QA_", p.read_text(encoding="utf-8"))]
    assert readers == []  # only qa/config.py reads QA_* variables


def test_logins_from_variable_and_file(tmp_path):
    assert from_env({}).web.auth == ()
    assert from_env({"QA_AUTH": "admin:p:w"}).web.auth == (("admin", "p:w"),)
    users = tmp_path / "users"
    users.write_text("# logins\nalice:one\n\nbob:two\n", encoding="utf-8")
    env = {"QA_AUTH": "admin:p:w", "QA_AUTH_FILE": str(users)}
    assert from_env(env).web.auth == (("admin", "p:w"), ("alice", "one"), ("bob", "two"))
    with pytest.raises(ConfigError, match="用户名:密码"):
        from_env({"QA_AUTH": "nopassword"})
    with pytest.raises(ConfigError, match="无法读取"):
        from_env({"QA_AUTH_FILE": str(tmp_path / "missing")})


def test_bad_values_name_the_variable():
    with pytest.raises(ConfigError, match="QA_EMBED_PRECISION"):
        from_env({"QA_EMBED_PRECISION": "fp8"})
    with pytest.raises(ConfigError, match="QA_MIN_SPAN_SCORE"):
        from_env({"QA_MIN_SPAN_SCORE": "high"})
    assert from_env({"QA_MIN_SPAN_SCORE": "2.5", "QA_KB_DIR": "/tmp/x"}).answer.min_span_score == 2.5
    assert str(from_env({"QA_KB_DIR": "/tmp/x"}).kb_dir) == "/tmp/x"
