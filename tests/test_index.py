"""The index on disk: manifest, staleness, corruption, interrupted builds, embedding cache."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from qa.config import RetrievalConfig
from qa.errors import IndexCorruptError, IndexMissingError
from qa.chunking import ChunkConfig
from qa.index import Manifest, Part, build, load, mean_vectors, staleness, write_build
from qa.keywords import bm25_scores
from qa.query import analyze
from qa.retrieval import dense_search, search, to_passages, word_standout

CFG = RetrievalConfig()


def test_build_writes_manifest_and_no_pickle(small_kb_dir, embedder):
    current = (small_kb_dir / "current").resolve()
    manifest = json.loads((current / "manifest.json").read_text())
    assert manifest["embed_model"] == embedder.model_id and manifest["dim"] == embedder.dim == 384
    assert manifest["documents"] == 3 and manifest["passages"] > 100
    files = {p.name for p in current.rglob("*")}
    assert {"index.faiss", "store.sqlite", "manifest.json"} <= files
    assert not [f for f in files if f.endswith((".pkl", ".pickle"))]
    assert staleness(small_kb_dir, embedder.model_id) is None


def test_passage_vectors_are_the_mean_of_their_sentences(small_kb_dir):
    kb = load(small_kb_dir)
    sentence_vectors = kb.sentence_index.reconstruct_n(0, kb.sentence_index.ntotal)
    for row in (0, len(kb.passages) // 2, len(kb.passages) - 1):
        mean = sentence_vectors[kb.first_sentence[row] : kb.first_sentence[row + 1]].mean(axis=0)
        np.testing.assert_allclose(kb.faiss_index.reconstruct(row), mean / np.linalg.norm(mean), atol=1e-5)
    with pytest.raises(ValueError, match="at least one sentence"):
        mean_vectors(sentence_vectors[:2], np.array([0, 0]), 2)
    mean = sentence_vectors.mean(axis=0)
    np.testing.assert_allclose(kb.centroid, mean / np.linalg.norm(mean), atol=1e-5)


def test_a_build_written_part_by_part_holds_what_one_written_at_once_holds(small_kb_dir, embedder, tmp_path):
    """A large collection is written a part at a time (scripts/scale_bench.py at 1000x); each part
    counts its sentences' passage rows from its own first passage."""
    kb = load(small_kb_dir)
    vectors = kb.sentence_index.reconstruct_n(0, kb.sentence_index.ntotal)
    parts = []
    for doc_id, doc in kb.documents.items():
        rows = [r for r, p in enumerate(kb.passages) if p.doc_id == doc_id]
        first, last = rows[0], rows[-1] + 1
        sentences = [(int(r) - first, int(a), int(b)) for r, a, b in kb.sentences[kb.first_sentence[first] : kb.first_sentence[last]]]
        parts.append(Part([doc], kb.passages[first:last], sentences, [f for f in kb.facts if f.doc_id == doc_id]))
    assert len(parts) == 3
    write_build(tmp_path, iter(parts), vectors, Manifest.describe(embedder.model_id, ChunkConfig(), kb.manifest.corpus_hash))
    again = load(tmp_path)
    assert [p.id for p in again.passages] == [p.id for p in kb.passages]
    np.testing.assert_array_equal(again.sentences, kb.sentences)
    assert again.facts == kb.facts
    assert (again.manifest.documents, again.manifest.passages, again.manifest.kinds) == (3, len(kb.passages), kb.manifest.kinds)
    np.testing.assert_allclose(again.faiss_index.reconstruct_n(0, len(kb.passages)), kb.faiss_index.reconstruct_n(0, len(kb.passages)), atol=1e-6)
    np.testing.assert_allclose(again.centroid, kb.centroid, atol=1e-6)
    np.testing.assert_allclose(bm25_scores(again.bm25, ["生产总值", "增长"]), bm25_scores(kb.bm25, ["生产总值", "增长"]), rtol=1e-6)


def test_dense_scores_discount_generic_vectors_and_sentence_similarities_stay_cosines(small_kb_dir, embedder):
    kb = load(small_kb_dir)
    query = embedder.embed_queries(["彬州去年GDP总量有多大？"])[0]
    rows, scores, sims = dense_search(kb, query, kb.rows_by_city["彬州市"], 5, CFG)
    sentence_vectors = kb.sentence_index.reconstruct_n(0, kb.sentence_index.ntotal)
    srows = np.array(list(sims))
    np.testing.assert_allclose(list(sims.values()), sentence_vectors[srows] @ query, atol=1e-5)  # for the answer step
    ranking_query = query - CFG.hub_penalty * kb.centroid
    for row, score in zip(rows, scores):
        own = sentence_vectors[kb.first_sentence[row] : kb.first_sentence[row + 1]]
        expected = CFG.passage_weight * kb.faiss_index.reconstruct(int(row)) @ ranking_query + (1 - CFG.passage_weight) * (own @ ranking_query).max()
        assert score == pytest.approx(expected, abs=1e-5)
    assert list(scores) == sorted(scores, reverse=True) and len(rows) == 5


def test_offsets_point_into_document_text(small_kb_dir):
    kb = load(small_kb_dir)
    for p in kb.passages:
        assert kb.documents[p.doc_id].text[p.start:p.end] == p.text


def test_the_knowledge_base_knows_the_reports_words(small_kb_dir):
    from qa.keywords import in_vocabulary

    kb = load(small_kb_dir)
    assert in_vocabulary(kb.bm25, "生产总值") and in_vocabulary(kb.bm25, "彬州")
    assert not in_vocabulary(kb.bm25, "挖空") and not in_vocabulary(kb.bm25, "")
    # jieba cuts 消费券 into 消费 + 券, so it is no BM25 word, but the reports do use it
    assert not in_vocabulary(kb.bm25, "消费券") and kb.uses("消费券") and kb.uses("生产总值")
    assert not kb.uses("挖空") and not kb.uses("养老钱") and not kb.uses("")


def test_a_word_no_report_uses_singles_out_the_sentence_that_means_it(small_kb_dir, embedder):
    kb = load(small_kb_dir)
    assert not kb.uses("臭水沟")  # the reports say 污水

    def srows_of(city):
        return [s for r in kb.rows_by_city[city] for s in range(kb.first_sentence[r], kb.first_sentence[r + 1])]

    ningbo = srows_of("宁波市")
    z = np.array(word_standout(kb, embedder, ("臭水沟", "挖空"), ningbo, 3, 30))
    row, start, end = kb.sentences[ningbo[int(np.argmax(z))]]
    assert "污水" in kb.documents[kb.passages[row].doc_id].text[start:end] and z.max() > 3.5
    # z is taken within each report: another report's sentences beside them change nothing
    pooled = word_standout(kb, embedder, ("臭水沟", "挖空"), ningbo + srows_of("彬州市"), 3, 30)
    np.testing.assert_allclose(pooled[: len(ningbo)], z, atol=1e-3)
    assert not any(word_standout(kb, embedder, (), ningbo, 3, 30)) and not any(word_standout(kb, embedder, ("臭水沟",), ningbo[:5], 3, 30))


def test_retrieves_the_right_passage_with_the_real_model(small_kb_dir, embedder):
    kb = load(small_kb_dir)
    question = analyze("彬州去年GDP总量有多大？", kb.cities, kb.default_year)
    result = search(kb, embedder, question, 5)
    passages = to_passages(kb, result.hits)
    assert question.cities == ("彬州市",)
    assert result.sentence_sims  # sentence-level scores feed the answer step
    assert all(p.city == "彬州市" for p in passages)
    assert any("326.3亿元" in p.text for p in passages[:3])


def test_staleness_detects_changes(kb_copy, small_sources, embedder, tmp_path):
    assert staleness(kb_copy, "another-model").startswith("嵌入模型已更换")
    config = json.loads((kb_copy / "config.json").read_text())
    edited = tmp_path / "edited"
    edited.mkdir()
    for f in Path(config["sources"][0]).iterdir():
        (edited / f.name).write_bytes(f.read_bytes())
    (kb_copy / "config.json").write_text(json.dumps({"sources": [str(edited)], "excluded": []}))
    assert staleness(kb_copy, embedder.model_id) is None  # same content elsewhere: still current
    with open(next(edited.iterdir()), "a", encoding="utf-8") as fh:
        fh.write("\n新增一句话。")
    assert staleness(kb_copy, embedder.model_id) == "来源文件已改变"


def test_a_changed_synonym_table_makes_the_index_stale(kb_copy, embedder, monkeypatch):
    import qa.index as index_module

    assert staleness(kb_copy, embedder.model_id) is None
    monkeypatch.setattr(index_module, "synonym_groups", lambda: [["生产总值", "GDP"], ["新词", "另一个新词"]])
    assert staleness(kb_copy, embedder.model_id).startswith("同义词表")


def test_corrupt_parts_give_clear_errors(kb_copy):
    current = (kb_copy / "current").resolve()
    (current / "index.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError, match="index.faiss"):
        load(kb_copy)


def test_corrupt_store_and_manifest(kb_copy):
    current = (kb_copy / "current").resolve()
    manifest = json.loads((current / "manifest.json").read_text())
    (current / "manifest.json").write_text(json.dumps({**manifest, "sentence_centroid": [0.5]}))
    with pytest.raises(IndexCorruptError, match="manifest.json.*校验和不符"):  # an edit: the checksum says so
        load(kb_copy)
    # a manifest sealed with a wrong centroid (a faulty build) is caught by its shape
    (current / "manifest.json").write_text(Manifest.read(current / "manifest.json").sealed(current).to_json())
    with pytest.raises(IndexCorruptError, match="manifest.json.*句向量中心"):
        load(kb_copy)
    (current / "store.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(IndexCorruptError, match="store.sqlite"):
        load(kb_copy)
    (current / "manifest.json").write_text("{broken")
    with pytest.raises(IndexCorruptError, match="manifest.json"):
        load(kb_copy)


def test_missing_index(tmp_path):
    with pytest.raises(IndexMissingError):
        load(tmp_path)


def test_interrupted_build_keeps_previous_index(kb_copy, embedder, monkeypatch):
    before = load(kb_copy)
    import qa.index as index_module

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut while writing the index")

    monkeypatch.setattr(index_module, "save_bm25", crash)
    with pytest.raises(KeyboardInterrupt):
        build(kb_copy, embedder=embedder)
    after = load(kb_copy)
    assert after.manifest == before.manifest
    assert len(after.passages) == len(before.passages)


def test_rebuild_embeds_only_changed_passages(kb_copy, small_sources, embedder, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in small_sources.iterdir():
        (src / f.name).write_bytes(f.read_bytes())
    kb, _ = build(kb_copy, sources=[src], embedder=embedder)
    assert kb.manifest.embedded_now == 0  # everything came from the cache
    target = src / "彬州市.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\n全市新建一座测试图书馆。", encoding="utf-8")
    kb, _ = build(kb_copy, embedder=embedder)
    assert 1 <= kb.manifest.embedded_now <= 2
    assert len(list((kb_copy / "builds").iterdir())) == 1  # old builds cleaned up
