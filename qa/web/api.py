"""The OpenAI-compatible HTTP API (routes under /v1), served by the same process as the page.

    GET  /v1/models            one model per answer mode: extractive, and llm when QA_LLM is set
    POST /v1/chat/completions  OpenAI chat completions, streamed (SSE) or not; answers cite
    POST /v1/retrieve          the ranked passages for a question

Access: with QA_API_KEY set, every route needs `Authorization: Bearer <key>` (compared in
constant time); without it, only clients on this machine (loopback) are served. Bodies over
WebConfig.max_body_bytes are refused; at most WebConfig.api_concurrency questions are answered
at once, and at most WebConfig.api_queue wait; more get 429.
"""
from __future__ import annotations

import functools
import hmac
import ipaddress
import itertools
import json
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..answer import ask, ask_stream
from ..config import Config
from ..pipeline import open_kb, retrieve
from .protocol import (ApiError, completion, models_list, new_id, parse_chat, parse_retrieve, retrieval_result,
                       stream_chunks)

log = logging.getLogger(__name__)

ROUTES = {"/v1/models": "GET", "/v1/chat/completions": "POST", "/v1/retrieve": "POST"}


class Gate:
    """At most `limit` answers computed at once; at most `queue` requests waiting for a turn."""

    def __init__(self, limit: int, queue: int):
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._waiting, self._queue = 0, queue

    @contextmanager
    def slot(self):
        with self._lock:
            if self._waiting >= self._queue:
                raise ApiError(429, "服务器繁忙，请稍后再试。", "server_busy", kind="rate_limit_error")
            self._waiting += 1
        try:
            self._slots.acquire()
        finally:
            with self._lock:
                self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()

    def run(self, fn, *args, **kwargs):
        with self.slot():
            return fn(*args, **kwargs)


@dataclass(frozen=True)
class ApiContext:
    root: Path
    config: Config
    models: tuple[str, ...]  # answer modes offered as models
    gate: Gate

    @property
    def web(self):
        return self.config.web


# ---------------------------------------------------------------- access and bodies


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def check_access(request: Request, api_key: str) -> None:
    """Bearer key when one is configured (constant-time comparison), else loopback clients only."""
    if api_key:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), api_key.encode()):
            raise ApiError(401, "接口密钥无效：请在请求头中带上 Authorization: Bearer <QA_API_KEY>。", "invalid_api_key")
    elif not is_loopback(request.client.host if request.client else None):
        raise ApiError(403, "没有设置 QA_API_KEY 时，接口只接受本机（127.0.0.1）的请求。", "api_key_required",
                       kind="permission_error")


async def read_json(request: Request, limit: int):
    """The request body parsed as JSON; 413 past `limit` bytes (checked while reading), 400 if not JSON."""
    too_large = ApiError(413, f"请求体太大：不能超过 {limit // 1024} KB。", "request_too_large", kind="invalid_request_error")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise too_large
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "请求体不是有效的 JSON（UTF-8）。", "invalid_json") from None


def _sse(payload) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


def _api_route(handler):
    """Every failure as OpenAI's error object: ApiError with its status, anything else 500."""
    @functools.wraps(handler)
    async def route(request: Request):
        try:
            return await handler(request)
        except ApiError as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
        except Exception:  # noqa: BLE001 - a failing request must not take the server down
            log.exception("API request failed: %s", request.url.path)
            return JSONResponse(ApiError(500, "服务器内部错误。", "internal_error", kind="server_error").body(),
                                status_code=500)

    return route


# ---------------------------------------------------------------- routes


def _stream(ctx: ApiContext, req, cid: str):
    """SSE lines of one streamed answer, computed in a gate slot; errors mid-stream as an error event."""
    with ctx.gate.slot():
        events = ask_stream(req.question, history=req.history, k=req.k, city=req.city, kb_dir=ctx.root, mode=req.model,
                            config=ctx.config)
        try:
            for piece in stream_chunks(events, req.model, cid):
                yield _sse(piece)
        except Exception:  # noqa: BLE001 - the client gets an error event instead of a cut stream
            log.exception("streamed answer failed: %s", req.question)
            yield _sse(ApiError(500, "回答时出错。", "internal_error", kind="server_error").body())
    yield "data: [DONE]\n\n"


def _answer(ctx: ApiContext, req):
    """(answer, milliseconds spent in qa.ask) in a gate slot; the time goes out as Server-Timing,
    so a client can tell the API's own cost from the answer's."""
    with ctx.gate.slot():
        t0 = time.perf_counter()
        answer = ask(req.question, history=req.history, k=req.k, city=req.city, kb_dir=ctx.root, mode=req.model,
                     config=ctx.config)
        return answer, (time.perf_counter() - t0) * 1000


def install_api(app: FastAPI, ctx: ApiContext) -> None:
    """Adds the /v1 routes to app (before the page is mounted at /, so they come first)."""

    async def models(request: Request):
        check_access(request, ctx.web.api_key)
        return JSONResponse(models_list(list(ctx.models)))

    async def chat_completions(request: Request):
        check_access(request, ctx.web.api_key)
        body = await read_json(request, ctx.web.max_body_bytes)
        req = parse_chat(body, list(ctx.models), open_kb(ctx.root, config=ctx.config).cities,
                         ctx.config.answer.passages, ctx.config.max_question_chars)
        if not req.stream:
            answer, ms = await run_in_threadpool(_answer, ctx, req)
            return JSONResponse(completion(answer, req.model), headers={"Server-Timing": f"answer;dur={ms:.2f}"})
        lines = _stream(ctx, req, new_id())
        first = await run_in_threadpool(next, lines)  # waits for a slot: "busy" is still an HTTP error
        return StreamingResponse(itertools.chain([first], lines), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def retrieve_route(request: Request):
        check_access(request, ctx.web.api_key)
        req = parse_retrieve(await read_json(request, ctx.web.max_body_bytes), open_kb(ctx.root, config=ctx.config).cities,
                             ctx.config.max_question_chars)
        passages = await run_in_threadpool(ctx.gate.run, retrieve, req.question, k=req.k, city=req.city,
                                           kb_dir=ctx.root, config=ctx.config)
        return JSONResponse(retrieval_result(req.question, passages))

    async def unknown(request: Request):
        check_access(request, ctx.web.api_key)
        path = request.url.path.rstrip("/")
        if path in ROUTES:
            raise ApiError(405, f"{path} 只接受 {ROUTES[path]} 请求。", "method_not_allowed")
        raise ApiError(404, f"没有这个接口：{path}（可用：{'、'.join(ROUTES)}）。", "unknown_route")

    app.add_api_route("/v1/models", _api_route(models), methods=["GET"])
    app.add_api_route("/v1/chat/completions", _api_route(chat_completions), methods=["POST"])
    app.add_api_route("/v1/retrieve", _api_route(retrieve_route), methods=["POST"])
    app.add_api_route("/v1/{rest:path}", _api_route(unknown), methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                      include_in_schema=False)
