"""The OpenAI-compatible wire format, without HTTP: reading request bodies into plain records,
and making completions, stream chunks, model lists and errors as OpenAI's clients expect them.

Our additions ride in fields OpenAI does not use: `report_qa` on a completion (and on the last
stream chunk) holds `Answer.to_dict()`; requests may carry `city` and `k`.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from ..errors import QuestionError
from ..config import Config
from ..query import check_k, check_question
from ..schema import Answer, History
from ..serialize import answer_with_sources, sources_block, strip_sources

EXTRA_FIELD = "report_qa"
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
MAX_K = 20


class ApiError(Exception):
    """A request the API refuses; becomes OpenAI's {"error": {...}} with this status."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.kind = status, message, code, param, kind

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class ChatRequest:
    question: str
    history: History
    model: str
    stream: bool
    city: list[str] | None
    k: int


@dataclass(frozen=True)
class RetrieveRequest:
    question: str
    k: int
    city: list[str] | None


# ---------------------------------------------------------------- reading requests


def _text(content, index: int) -> str:
    """A message's content: a string, or OpenAI's list of parts (text parts are joined)."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content
                         if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str))
    raise ApiError(400, "消息内容 content 应是字符串或内容片段列表。", "invalid_content", f"messages[{index}].content")


def _messages(body: dict) -> list[tuple[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "请求中缺少 messages（非空列表）。", "missing_messages", "messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise ApiError(400, f"messages[{i}] 应是带 role（{' / '.join(ROLES)}）的对象。", "invalid_message", f"messages[{i}]")
        out.append((m["role"], _text(m.get("content"), i)))
    return out


def question_and_history(messages: list[tuple[str, str]]) -> tuple[str, History]:
    """The last user turn is the question; each earlier user turn answered by the assistant is
    a (question, answer) pair of the history (the sources list we appended is taken off)."""
    users = [i for i, (role, _) in enumerate(messages) if role == "user"]
    if not users:
        raise ApiError(400, "messages 中没有用户的问题（role 为 user 的消息）。", "no_user_message", "messages")
    history: History = []
    turns = [(role, text) for role, text in messages[: users[-1]] if role in ("user", "assistant")]
    for (role, text), (next_role, reply) in zip(turns, turns[1:]):
        if role == "user" and next_role == "assistant" and text.strip():
            history.append((text.strip(), strip_sources(reply)))
    return messages[users[-1]][1], history


def _question(value, max_chars: int, param: str = "messages") -> str:
    try:
        return check_question(value, max_chars)
    except QuestionError as exc:
        raise ApiError(400, str(exc), exc.code, param) from None


def _city(body: dict, known: list[str]) -> list[str] | None:
    city = body.get("city")
    if city is None or city == [] or city == "":
        return None
    cities = [city] if isinstance(city, str) else city
    if not isinstance(cities, list) or not all(isinstance(c, str) for c in cities):
        raise ApiError(400, "city 应是城市名或城市名列表，例如 \"彬州市\"。", "invalid_city", "city")
    unknown = [c for c in cities if c not in known]
    if unknown:
        raise ApiError(400, f"知识库中没有这些城市的报告：{'、'.join(unknown)}（可选：{'、'.join(known)}）。",
                       "unknown_city", "city")
    return cities


def _k(body: dict, default: int) -> int:
    try:
        return check_k(body.get("k", default), MAX_K)
    except QuestionError as exc:
        raise ApiError(400, str(exc), exc.code, "k") from None


def parse_chat(body, models: list[str], cities: list[str], default_k: int, max_chars: int = Config.max_question_chars) -> ChatRequest:
    """A chat-completions body -> ChatRequest, or ApiError saying what is wrong."""
    if not isinstance(body, dict):
        raise ApiError(400, "请求体应是 JSON 对象。", "invalid_body")
    model = body.get("model") or "extractive"
    if model not in models:
        raise ApiError(404, f"没有这个模型：{model}（可用：{'、'.join(models)}）。", "model_not_found", "model")
    question, history = question_and_history(_messages(body))
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "stream 应是 true 或 false。", "invalid_stream", "stream")
    return ChatRequest(_question(question, max_chars), history, model, stream, _city(body, cities), _k(body, default_k))


def parse_retrieve(body, cities: list[str], max_chars: int = Config.max_question_chars) -> RetrieveRequest:
    if not isinstance(body, dict):
        raise ApiError(400, "请求体应是 JSON 对象。", "invalid_body")
    if "question" not in body:
        raise ApiError(400, "请求中缺少 question。", "missing_question", "question")
    return RetrieveRequest(_question(body["question"], max_chars, "question"), _k(body, 5), _city(body, cities))


# ---------------------------------------------------------------- making responses


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def completion(answer: Answer, model: str, completion_id: str | None = None) -> dict:
    """A non-streamed chat completion: the answer with its sources list, and the record."""
    return {
        "id": completion_id or new_id(), "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer_with_sources(answer)},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": None,
        EXTRA_FIELD: answer.to_dict(),
    }


def chunk(completion_id: str, created: int, model: str, delta: dict, finish: str | None = None, **extra) -> dict:
    return {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}


def stream_chunks(events, model: str, completion_id: str | None = None):
    """ask_stream events -> chunks: the role, the text as it comes, then the note and sources list,
    then a last chunk (finish_reason "stop") carrying the record. Text that the final answer
    replaced or renumbered (a checked LLM answer) is followed by the final text."""
    cid, created = completion_id or new_id(), int(time.time())
    yield chunk(cid, created, model, {"role": "assistant", "content": ""})
    streamed = ""
    for event in events:
        if event["type"] == "answer":
            answer: Answer = event["answer"]
            tail = sources_block(answer)
            if streamed.strip() != answer.text:
                tail = ("\n\n" if streamed else "") + answer.text + tail
            if tail:
                yield chunk(cid, created, model, {"content": tail})
            yield chunk(cid, created, model, {}, "stop", **{EXTRA_FIELD: answer.to_dict()})
            return
        text = event["text"] if event["type"] == "delta" else "\n\n" + event["text"]
        streamed = streamed + text if event["type"] == "delta" else event["text"]
        yield chunk(cid, created, model, {"content": text})


def models_list(models: list[str]) -> dict:
    return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "report-qa"} for m in models]}


def retrieval_result(question: str, passages) -> dict:
    return {"object": "list", "question": question,
            "data": [{"rank": i, **p.to_dict()} for i, p in enumerate(passages, 1)]}
