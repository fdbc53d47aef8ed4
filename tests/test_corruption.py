"""Every kind of damaged knowledge-base file (issue 14, item 3), each on a copy of a real built
knowledge base: the user gets a clear Chinese message and either an automatic rebuild (then the
right answer) or an instruction (the command to run) — never a traceback, never a wrong answer.

The inventory (one row per case) is in docs/measurements.md, "Corrupt files". Variants marked
"resealed" also rewrite the manifest's checksums, as a careless tool or a person would, to show
the structural checks behind the checksums. Leftovers of killed changes in uploads/ are tested in
tests/test_hardening.py (the two `a_removal_killed_*` tests)."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import faiss
import numpy as np
import pytest

import qa
from qa.cli import main as cli
from qa.errors import QAError
from qa.index import Manifest, load
from qa.pipeline import forget_kb

GDP = "彬州去年GDP总量有多大？"
RIGHT, WRONG = "326.3亿元", "999.9"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _build(root: Path) -> Path:
    return (root / "current").resolve()


def _reseal(build: Path) -> None:
    """Rewrite the manifest's checksums so that they match the damaged files."""
    manifest = Manifest.read(build / "manifest.json")
    (build / "manifest.json").write_text(manifest.sealed(build).to_json(), encoding="utf-8")


def _bytes(n: int) -> bytes:
    return np.random.default_rng(14).bytes(n)


# ---------------------------------------------------------------- damages (each: root -> None)


def truncate(name):
    def damage(root):
        path = _build(root) / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return damage


def randomize(name):
    def damage(root):
        path = _build(root) / name
        path.write_bytes(_bytes(path.stat().st_size))
    return damage


def empty(name):
    return lambda root: (_build(root) / name).write_bytes(b"")


def delete(name):
    return lambda root: (_build(root) / name).unlink()


def write_text(name, text):
    return lambda root: (_build(root) / name).write_text(text, encoding="utf-8")


def wrong_dimension(name):
    def damage(root):
        path = _build(root) / name
        n = faiss.read_index(str(path)).ntotal
        index = faiss.IndexFlatIP(128)
        index.add(np.random.default_rng(0).standard_normal((n, 128)).astype(np.float32))
        faiss.write_index(index, str(path))
    return damage


def _execute(store: Path, statement: str) -> None:
    conn = sqlite3.connect(store)
    with conn:
        conn.execute(statement)
    conn.close()


def sql(statement):
    return lambda root: _execute(_build(root) / "store.sqlite", statement)


EDIT_FIGURE = f"UPDATE documents SET text = replace(text, '{RIGHT}', '{WRONG}亿元')"


def edit_manifest(change):
    def damage(root):
        path = _build(root) / "manifest.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(json.dumps(data), encoding="utf-8")
    return damage


def resealed(damage):
    def both(root):
        damage(root)
        _reseal(_build(root))
    return both


def config(text):
    return lambda root: (root / "config.json").write_text(text, encoding="utf-8")


def dangling(root):
    shutil.rmtree(_build(root))


def link_to(target: Callable[[Path], Path]):
    def damage(root):
        where = target(root)
        (root / "current").unlink()
        (root / "current").symlink_to(where)
    return damage


def another_kbs_build(root: Path) -> Path:
    """A valid build of another knowledge base (checksums sealed) whose figure differs."""
    other = root.parent / "other-kb"
    shutil.copytree(root, other, symlinks=True)
    sql(EDIT_FIGURE)(other)
    _reseal(_build(other))
    return _build(other)


def plain_file(root):
    (root / "current").unlink()
    (root / "current").write_text("builds/x")


def builds_leftover(kind):
    def damage(root):
        builds = root / "builds"
        if kind == "tmp":  # a build killed before its rename
            shutil.copytree(_build(root), builds / ".tmp-20230101-000000-abcdef")
            (builds / ".tmp-20230101-000000-abcdef" / "store.sqlite").write_bytes(b"half")
        elif kind == "old":  # a build killed before it removed the previous one
            shutil.copytree(_build(root), builds / "20230101-000000-abcdef")
            _execute(builds / "20230101-000000-abcdef" / "store.sqlite", EDIT_FIGURE)  # not current: never read
        else:
            (builds / "stray.txt").write_text("junk")
    return damage


def corrupt_cache(root):
    (root / "embed_cache.sqlite").write_bytes(b"this is not a database" * 500)
    (_build(root) / "index.faiss").unlink()  # so that the next open rebuilds, through the cache


# ---------------------------------------------------------------- the inventory


@dataclass(frozen=True)
class Case:
    id: str
    part: str  # the file or folder named in the message
    damage: Callable[[Path], None]
    outcome: str  # "rebuild" (answers right after an automatic rebuild) | "instruction" | "answers"


FAISS = [c for name in ("index.faiss", "sentences.faiss") for c in (
    Case(f"{name}: truncated", name, truncate(name), "rebuild"),
    Case(f"{name}: random bytes, same size", name, randomize(name), "rebuild"),
    Case(f"{name}: empty", name, empty(name), "rebuild"),
    Case(f"{name}: deleted", name, delete(name), "rebuild"),
    Case(f"{name}: wrong dimension", name, wrong_dimension(name), "rebuild"),
    Case(f"{name}: truncated, resealed", name, resealed(truncate(name)), "rebuild"),
    Case(f"{name}: random bytes, resealed", name, resealed(randomize(name)), "rebuild"),
    Case(f"{name}: empty, resealed", name, resealed(empty(name)), "rebuild"),
    Case(f"{name}: wrong dimension, resealed", "", resealed(wrong_dimension(name)), "rebuild"),
)]
STORE = [
    Case("store.sqlite: truncated", "store.sqlite", truncate("store.sqlite"), "rebuild"),
    Case("store.sqlite: not a database", "store.sqlite", randomize("store.sqlite"), "rebuild"),
    Case("store.sqlite: deleted", "store.sqlite", delete("store.sqlite"), "rebuild"),
    Case("store.sqlite: a table dropped", "store.sqlite", sql("DROP TABLE passages"), "rebuild"),
    Case("store.sqlite: a figure edited", "store.sqlite",
         sql(EDIT_FIGURE), "rebuild"),
    Case("store.sqlite: truncated, resealed", "store.sqlite", resealed(truncate("store.sqlite")), "rebuild"),
    Case("store.sqlite: not a database, resealed", "store.sqlite", resealed(randomize("store.sqlite")), "rebuild"),
    Case("store.sqlite: a table dropped, resealed", "store.sqlite", resealed(sql("DROP TABLE passages")), "rebuild"),
    Case("store.sqlite: a passage row deleted, resealed", "", resealed(sql("DELETE FROM passages WHERE row = 3")), "rebuild"),
    Case("store.sqlite: a value of the wrong type, resealed", "store.sqlite",
         resealed(sql("UPDATE passages SET start = 'abc' WHERE row = 3")), "rebuild"),
]
MANIFEST = [
    Case("manifest.json: not JSON", "manifest.json", write_text("manifest.json", "{not json"), "rebuild"),
    Case("manifest.json: a JSON list", "manifest.json", write_text("manifest.json", "[1, 2]"), "rebuild"),
    Case("manifest.json: empty", "manifest.json", write_text("manifest.json", ""), "rebuild"),
    Case("manifest.json: deleted", "", delete("manifest.json"), "rebuild"),
    Case("manifest.json: missing keys", "manifest.json", edit_manifest(lambda d: d.pop("embed_model")), "rebuild"),
    Case("manifest.json: checksums missing", "manifest.json", edit_manifest(lambda d: d.pop("files")), "rebuild"),
    Case("manifest.json: wrong format version, resealed", "", resealed(edit_manifest(lambda d: d.update(format_version=7))),
         "rebuild"),
    Case("manifest.json: edited checksum", "manifest.json", edit_manifest(lambda d: d.update(checksum="0" * 64)), "rebuild"),
    Case("manifest.json: edited centroid", "manifest.json",
         edit_manifest(lambda d: d.update(sentence_centroid=[-x for x in d["sentence_centroid"]])), "rebuild"),
]
KEYWORDS = [
    Case("bm25/: a file deleted", "bm25", delete("bm25/vocab.index.json"), "rebuild"),
    Case("bm25/: a file corrupt", "bm25", randomize("bm25/data.csc.index.npy"), "rebuild"),
    Case("bm25/: a file deleted, resealed", "bm25", resealed(delete("bm25/vocab.index.json")), "rebuild"),
    Case("bm25/: a file corrupt, resealed", "bm25", resealed(randomize("bm25/data.csc.index.npy")), "rebuild"),
    Case("bm25/: vocabulary not JSON, resealed", "bm25", resealed(write_text("bm25/vocab.index.json", "{")), "rebuild"),
    Case("bm25_generic/: a stray folder", "bm25_generic",
         lambda root: shutil.copytree(_build(root) / "bm25", _build(root) / "bm25_generic"), "rebuild"),
]
OTHERS = [
    Case("embed_cache.sqlite: corrupt", "嵌入缓存", corrupt_cache, "rebuild"),
    Case("config.json: not JSON", "config.json", config("{oops"), "instruction"),
    Case("config.json: a JSON list", "config.json", config("[]"), "instruction"),
    Case("config.json: wrong types", "config.json", config('{"sources": 5, "excluded": {}}'), "instruction"),
    Case("config.json: deleted", "config.json", lambda root: (root / "config.json").unlink(), "instruction"),
    Case("current: dangling", "current", dangling, "rebuild"),
    Case("current: another knowledge base's build", "current", link_to(another_kbs_build), "rebuild"),
    Case("current: outside any knowledge base (/)", "current", link_to(lambda root: Path("/")), "rebuild"),
    Case("current: a plain file", "current", plain_file, "rebuild"),
    Case("builds/: a killed build's .tmp-*", "", builds_leftover("tmp"), "answers"),
    Case("builds/: an old build left", "", builds_leftover("old"), "answers"),
    Case("builds/: a stray file", "", builds_leftover("stray"), "answers"),
]
CASES = FAISS + STORE + MANIFEST + KEYWORDS + OTHERS


@pytest.fixture
def damaged(request, kb_copy):
    case: Case = request.param
    case.damage(kb_copy)
    forget_kb(kb_copy)
    return kb_copy, case


@pytest.mark.parametrize("damaged", CASES, ids=[c.id for c in CASES], indirect=True)
def test_a_damaged_knowledge_base_rebuilds_or_says_what_to_do(damaged, capsys, caplog):
    root, case = damaged
    target = os.readlink(root / "current") if (root / "current").is_symlink() else None
    with caplog.at_level(logging.WARNING):
        rc = cli(["--kb", str(root), "ask", GDP])
    out, err = capsys.readouterr()
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "Traceback" not in out + err
    if case.outcome == "instruction":
        assert rc == 2 and err.startswith("错误：") and case.part in err and CJK.search(err), err
        assert "python -m qa" in err or "请" in err, err  # says what to do
        with pytest.raises(QAError):
            qa.ask(GDP, kb_dir=root, mode="extractive")
        assert (os.readlink(root / "current") if (root / "current").is_symlink() else None) == target  # nothing rebuilt
        return
    assert rc == 0 and RIGHT in out and WRONG not in out, (out, err)
    if case.outcome == "rebuild":
        assert any(case.part in w and CJK.search(w) for w in warned), warned  # a clear message in the log
        assert os.readlink(root / "current") != target
    else:
        assert os.readlink(root / "current") == target and not warned, warned
    forget_kb(root)
    load(root)  # what is current now verifies
    assert sorted(p.name for p in (root / "builds").iterdir()) == [Path(os.readlink(root / "current")).name] \
        or case.outcome == "answers"


def test_leftovers_in_builds_are_removed_by_the_next_build(kb_copy):
    for kind in ("tmp", "old", "stray"):
        builds_leftover(kind)(kb_copy)
    assert cli(["--kb", str(kb_copy), "index"]) == 0
    assert [p.name for p in (kb_copy / "builds").iterdir()] == [Path(os.readlink(kb_copy / "current")).name]


def test_a_locked_embedding_cache_does_not_stop_a_rebuild(kb_copy, caplog):
    """Another program holds the cache (an SQLite browser, a backup): the rebuild goes on without
    it, says so, and leaves the cache as it is."""
    cache = kb_copy / "embed_cache.sqlite"
    holder = sqlite3.connect(cache)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        (_build(kb_copy) / "index.faiss").unlink()
        forget_kb(kb_copy)
        with caplog.at_level(logging.WARNING):
            answer = qa.ask(GDP, kb_dir=kb_copy, mode="extractive")
        assert RIGHT in answer.text
        assert any("嵌入缓存" in r.getMessage() and "占用" in r.getMessage() for r in caplog.records)
        assert not list(kb_copy.glob("embed_cache.sqlite.corrupt-*"))  # not taken for a damaged one
    finally:
        holder.rollback()
        holder.close()


def test_a_copy_made_without_links_answers_and_rebuilds(small_kb_dir, tmp_path):
    """`cp -r` or copytree without symlinks makes `current` a real folder: a complete build of its
    own. It answers, and the next build replaces it with a link."""
    root = tmp_path / "kb"
    shutil.copytree(small_kb_dir, root)
    assert (root / "current").is_dir() and not (root / "current").is_symlink()
    assert RIGHT in qa.ask(GDP, kb_dir=root, mode="extractive").text
    assert cli(["--kb", str(root), "index"]) == 0
    assert (root / "current").is_symlink()
    assert [p.name for p in (root / "builds").iterdir()] == [Path(os.readlink(root / "current")).name]
    forget_kb(root)
    assert RIGHT in qa.ask(GDP, kb_dir=root, mode="extractive").text


def test_builds_on_another_disk_through_a_link_are_the_knowledge_bases_own(kb_copy, tmp_path, caplog):
    """builds/ may be a link to another disk: its builds are this knowledge base's, not outside it."""
    elsewhere = tmp_path / "disk2" / "builds"
    elsewhere.parent.mkdir()
    shutil.move(kb_copy / "builds", elsewhere)
    (kb_copy / "builds").symlink_to(elsewhere)
    target = os.readlink(kb_copy / "current")
    with caplog.at_level(logging.WARNING):
        assert RIGHT in qa.ask(GDP, kb_dir=kb_copy, mode="extractive").text
    assert os.readlink(kb_copy / "current") == target and not caplog.records  # loaded, not rebuilt
