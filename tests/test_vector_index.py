"""Vector indexes by size (qa/vector_index.py) and the streaming keyword build: flat, IVF, and the
compressed memory-mapped IVF whose candidates are rescored with the exact vectors on disk."""
import bm25s
import faiss
import numpy as np
import pytest

from qa import vector_index
from qa.config import RetrievalConfig
from qa.index import build, load
from qa.keywords import build_bm25, tokenize_zh
from qa.query import analyze
from qa.retrieval import dense_search
from qa.vector_index import ExactRows, RefinedIndex, ann_search, exact_top, nlist_for, read_vector_index, write_vector_index


def clustered(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dim))
    x = centres[rng.integers(0, 40, n)] + 0.5 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_index_type_follows_the_number_of_vectors(tmp_path):
    x = clustered(3000)
    kinds = {}
    for name, flat_max, compress_min in (("flat", 5000, 9000), ("ivf", 1000, 5000), ("compressed", 1000, 2000)):
        kinds[name] = write_vector_index(x, tmp_path / f"{name}.faiss", flat_max, compress_min)
    assert kinds == {"flat": "IndexFlatIP", "ivf": "IndexIVFFlat", "compressed": "IndexIVFScalarQuantizer+exact"}
    assert not (tmp_path / "ivf.npy").exists() and (tmp_path / "compressed.npy").exists()
    # SQ8: a byte a dimension, a quarter of the flat vectors
    assert (tmp_path / "compressed.faiss").stat().st_size < 0.4 * (tmp_path / "flat.faiss").stat().st_size
    for name in kinds:
        index = read_vector_index(tmp_path / f"{name}.faiss")
        assert index.ntotal == 3000 and index.d == 64
        np.testing.assert_array_equal(index.reconstruct_batch(np.array([0, 7, 2999])), x[[0, 7, 2999]])
    compressed = read_vector_index(tmp_path / "compressed.faiss")
    assert isinstance(compressed, RefinedIndex) and isinstance(compressed.exact, ExactRows)


def test_compressed_candidates_are_rescored_with_the_exact_vectors(tmp_path):
    x, queries = clustered(4000), clustered(50, seed=1)
    write_vector_index(x, tmp_path / "v.faiss", 1000, 2000)
    index = read_vector_index(tmp_path / "v.faiss")
    exact = exact_top(x, queries, 10, chunk=700)  # in chunks, as from a file
    np.testing.assert_array_equal(exact, np.argsort(-(x @ queries.T), axis=0)[:10].T)
    recall = []
    for q, truth in zip(queries, exact):
        found = ann_search(index, q, 10, nprobe=nlist_for(4000), k_factor=4)  # every list: only SQ8 can miss
        scores = x[found] @ q
        assert list(scores) == sorted(scores, reverse=True)  # ordered by exact scores, not SQ8's
        recall.append(len(set(found) & set(truth)) / 10)
    assert np.mean(recall) >= 0.99


def _rss_file_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssFile:"))


def test_exact_rows_are_read_in_any_order_without_mapping_the_file(tmp_path):
    x = clustered(40_000, dim=384)  # 61 MB
    write_vector_index(x, tmp_path / "v.faiss", 1000, 2000)
    rows = read_vector_index(tmp_path / "v.faiss").exact
    ids = np.array([39_999, 5, 6, 7, 5, 0, 12_345])  # unordered, a run, a repeat, both ends
    np.testing.assert_array_equal(rows.rows(ids), x[ids])
    assert rows.rows([]).shape == (0, 384)
    with pytest.raises(IndexError):
        rows.rows([40_000])
    before = _rss_file_kb()
    for i in range(0, 40_000, 5_000):
        rows.rows(np.arange(i, i + 5_000))
    assert _rss_file_kb() - before < 20_000  # read, not mapped: 61 MB of pages are not this process's


def test_streaming_keyword_build_scores_as_bm25s_own():
    texts = ["彬州市地方财政收入21.1亿元，增长94.4%", "推进城市更新改造老旧小区", "", "高新技术企业达到120家，城市更新"]
    tokens = [tokenize_zh(t) for t in texts]
    own = bm25s.BM25()
    own.index([t or ["<empty>"] for t in tokens], show_progress=False)
    streamed = build_bm25(iter(tokens))  # read once, as a generator
    assert streamed.vocab_dict.keys() == own.vocab_dict.keys()
    for query in ("财政收入增长", "城市更新", "高新技术企业"):
        ids_own, ids_new = own.get_tokens_ids(tokenize_zh(query)), streamed.get_tokens_ids(tokenize_zh(query))
        np.testing.assert_allclose(streamed.get_scores_from_ids(ids_new), own.get_scores_from_ids(ids_own), rtol=1e-6)


def test_a_compressed_knowledge_base_scores_as_the_flat_one(tmp_path, monkeypatch, small_sources, small_kb_dir, embedder):
    monkeypatch.setattr(vector_index, "FLAT_MAX_VECTORS", 100)
    monkeypatch.setattr(vector_index, "COMPRESS_MIN_VECTORS", 200)
    build(tmp_path, sources=[small_sources], embedder=embedder)
    compressed, flat = load(tmp_path), load(small_kb_dir)
    assert isinstance(compressed.faiss_index, RefinedIndex) and isinstance(compressed.sentence_index, RefinedIndex)
    assert isinstance(flat.sentence_index, faiss.IndexFlatIP)
    assert "IndexIVFScalarQuantizer+exact" == compressed.manifest.faiss_index
    cfg = RetrievalConfig(ivf_nprobe=10_000, refine_factor=4)  # every list
    for text in ("彬州去年GDP总量有多大？", "宁波今年要建设多少保障性租赁住房？", "咸阳的农业有什么新举措？"):
        q = embedder.embed_queries([text])[0]
        record = analyze(text, flat.cities, flat.default_year)
        scope = flat.rows_by_city[record.cities[0]]
        c_rows, c_scores, _ = dense_search(compressed, q, scope, 5, cfg)
        f_rows, f_scores, _ = dense_search(flat, q, scope, 5, cfg)
        np.testing.assert_array_equal(c_rows, f_rows)  # inside a city: exact either way
        np.testing.assert_allclose(c_scores, f_scores, atol=1e-6)
        c_rows, _, _ = dense_search(compressed, q, None, 10, cfg)
        f_rows, _, _ = dense_search(flat, q, None, 10, cfg)
        assert len(set(c_rows) & set(f_rows)) >= 9


def test_retrieval_runs_faiss_and_blas_on_one_thread():
    # Their idle threads spin and slow the question's embedding on a 2-core machine (docs/measurements.md).
    import threadpoolctl

    import qa.retrieval  # noqa: F401  sets the limits

    assert faiss.omp_get_max_threads() == 1
    # numpy's BLAS computes the scores; libraries loaded later (scipy's, for documents) keep their own
    blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas" and "numpy" in p["filepath"]]
    assert blas and {p["num_threads"] for p in blas} == {1}
