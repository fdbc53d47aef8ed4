"""The bundled reports ship with their sentence vectors: current, faithful, small, and used."""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from embeddings import load_embedder
from qa.chunking import chunk_document
from qa.index import DEFAULT_DATA_DIR, EmbeddingCache, text_hash, build, embed_with_cache, read_manifest
from qa.kinds import embedding_units
from qa.ingest import load_documents
from qa.shipped_vectors import KEYS, SHIPPED_DIR, VECTORS, load_shipped, shipped_key


@pytest.fixture(scope="module")
def bundled_texts() -> list[str]:
    docs = load_documents([DEFAULT_DATA_DIR]).documents
    _, texts = embedding_units([p for d in docs for p in chunk_document(d)])
    return list(dict.fromkeys(texts))


@pytest.fixture(scope="module")
def shipped():
    vectors = load_shipped()
    assert vectors is not None, f"no shipped vectors in {SHIPPED_DIR}: run scripts/ship_vectors.py"
    return vectors


def test_shipped_files_are_small_float16_without_pickle() -> None:
    npy = np.load(SHIPPED_DIR / VECTORS, allow_pickle=False)
    assert npy.dtype == np.float16 and npy.shape[1] == 384
    size = sum((SHIPPED_DIR / f).stat().st_size for f in (VECTORS, KEYS))
    assert size < 8e6, f"{size / 1e6:.1f} MB committed"  # GitHub warns at 50 MB per file; keep the clone light


def test_shipped_vectors_cover_the_bundled_reports(shipped, bundled_texts: list[str]) -> None:
    # fails after a change to the chunker, the sentence texts or the model until they are regenerated
    assert shipped.model_id == load_embedder().model_id, "model or prompts changed: run scripts/ship_vectors.py"
    missing = [t for t in bundled_texts if shipped_key(text_hash(t)) not in shipped.rows]
    assert not missing, f"{len(missing)} sentences not shipped (e.g. {missing[0]!r}): run scripts/ship_vectors.py"
    assert len(shipped.rows) == len(bundled_texts)  # and nothing stale ships


def test_shipped_vectors_are_what_torch_fp32_makes(shipped, bundled_texts: list[str]) -> None:
    sample = random.Random(15).sample(bundled_texts, 48)
    fresh = load_embedder(backend="torch", precision="fp32").embed_passages(sample)
    hashes = [text_hash(t) for t in sample]
    got = shipped.get_many(shipped.model_id, hashes)
    cos = np.array([float(got[h] @ v) for h, v in zip(hashes, fresh)])
    assert cos.min() >= 0.999, f"min cosine {cos.min():.5f} for {sample[int(cos.argmin())]!r}"


def test_build_takes_shipped_vectors_and_only_for_their_model(shipped, bundled_texts: list[str], tmp_path: Path) -> None:
    embedder = load_embedder()
    texts = bundled_texts[:40] + ["一段没有随项目发布的新句子。"]
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    vectors, embedded = embed_with_cache(embedder, texts, cache, shipped=shipped)
    assert embedded == 1  # only the new sentence
    expected = shipped.get_many(shipped.model_id, [text_hash(texts[0])])[text_hash(texts[0])]
    np.testing.assert_allclose(vectors[0], expected, atol=1e-6)

    class OtherPrompt:  # the same model with another prompt is another vector space
        model_id, dim, cache_key = embedder.model_id + "|other", embedder.dim, "other"

        def embed_passages(self, batch):
            return embedder.embed_passages(batch)

    _, embedded = embed_with_cache(OtherPrompt(), texts[:5], cache, shipped=shipped)
    assert embedded == 5
    cache.close()


def test_damaged_shipped_files_are_ignored(tmp_path: Path) -> None:
    folder = tmp_path / "vectors"
    shutil.copytree(SHIPPED_DIR, folder)
    assert load_shipped(folder) is not None
    meta = json.loads((folder / KEYS).read_text(encoding="utf-8"))
    meta["keys"].pop()  # a key list that does not match the rows
    (folder / KEYS).write_text(json.dumps(meta), encoding="utf-8")
    assert load_shipped(folder) is None
    shutil.copy(SHIPPED_DIR / KEYS, folder / KEYS)
    vectors = np.load(folder / VECTORS, allow_pickle=False)
    np.save(folder / VECTORS, vectors[::-1].copy(), allow_pickle=False)  # rows swapped: not the listed file
    assert load_shipped(folder) is None
    assert load_shipped(tmp_path / "absent") is None


@pytest.mark.slow
def test_fresh_build_of_the_bundled_reports_embeds_nothing(tmp_path: Path) -> None:
    build(tmp_path / "kb", sources=[DEFAULT_DATA_DIR])
    manifest = read_manifest(tmp_path / "kb")
    assert manifest.embedded_now == 0 and manifest.passages > 1000
