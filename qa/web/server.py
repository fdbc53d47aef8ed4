"""One process serves the page at / and the OpenAI-compatible API at /v1: a FastAPI app with the
API routes, and the Gradio page mounted on it (with its own QA_AUTH login), run by uvicorn.

Binds 127.0.0.1 by default and never creates a public share link. Another address needs a
login for the page (QA_AUTH / QA_AUTH_FILE) or a key for the API (QA_API_KEY); without either
the server refuses to start.
"""
from __future__ import annotations

import logging
import re
import sys
import time
from pathlib import Path

from ..config import Config, from_env
from ..errors import ConfigError
from ..llm import describe_chat_model
from ..pipeline import kb_root, open_kb, retrieve
from .api import ApiContext, Gate, install_api, is_loopback

log = logging.getLogger("qa.web")


def check_exposure(host: str, config: Config) -> None:
    """Refuse a non-loopback address that neither the page login nor the API key protects."""
    web = config.web
    if is_loopback(host):
        return
    if not web.auth and not web.api_key:
        raise ConfigError(f"在 {host} 上对外服务需要登录或接口密钥：请设置 QA_AUTH=用户名:密码（网页登录）"
                          "和/或 QA_API_KEY=密钥（接口），或只在本机（127.0.0.1）上服务。")
    if not web.auth:
        log.warning("the page on %s has no login: anyone who can reach it can change the knowledge base "
                    "(set QA_AUTH=user:password)", host)
    if not web.api_key:
        log.warning("QA_API_KEY is not set: the API on %s answers only clients on this machine", host)


def build_server(kb_dir: str | Path | None = None, config: Config | None = None, host: str = "127.0.0.1",
                 port: int = 7860):
    """The FastAPI app: /v1 API routes, then the page mounted at /."""
    import gradio as gr
    from fastapi import FastAPI

    from .layout import build_app, page_assets

    config = config or from_env()
    root = kb_root(kb_dir, config)
    models = ("extractive", "llm") if describe_chat_model(config.llm) else ("extractive",)
    app = FastAPI(title="report-qa", docs_url=None, redoc_url=None, openapi_url=None)
    guard(app, host, config)
    install_api(app, ApiContext(root, config, models, Gate(config.web.api_concurrency, config.web.api_queue)))
    demo = build_app(root, config).queue(default_concurrency_limit=4, max_size=64)
    auth = list(config.web.auth) or None
    return gr.mount_gradio_app(app, demo, path="/", server_name=host, server_port=port, auth=auth,
                               auth_message="请登录" if auth else None, max_file_size="50mb", ssr_mode=False,
                               show_error=False, footer_links=[], **page_assets())


LOGIN_ATTEMPTS, LOGIN_WINDOW_S = 10, 60.0  # per client address: enough for typos, too few to guess


def guard(app, host: str, config: Config) -> None:
    """On a loopback address only requests for this machine's names are served: a page elsewhere
    cannot reach the app through a name that resolves here (DNS rebinding). With a login, each
    client address gets LOGIN_ATTEMPTS tries per LOGIN_WINDOW_S."""
    from collections import defaultdict, deque

    from fastapi.responses import JSONResponse
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    if is_loopback(host):
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])
    if not config.web.auth:
        return
    hide_api_info_before_login(app)
    tries: dict[str, deque] = defaultdict(deque)

    @app.middleware("http")
    async def limit_logins(request, call_next):
        if request.method == "POST" and request.url.path.rstrip("/").endswith("/login"):
            now, seen = time.monotonic(), tries[request.client.host if request.client else "?"]
            while seen and now - seen[0] > LOGIN_WINDOW_S:
                seen.popleft()
            if len(seen) >= LOGIN_ATTEMPTS:
                return JSONResponse({"detail": "登录尝试太频繁，请一分钟后再试。"}, status_code=429)
            seen.append(now)
        return await call_next(request)


LOGIN_PAGE = b'window.gradio_config = {"auth_required":true'
API_INFO = re.compile(rb"window\.gradio_api_info = .*?;</script>", re.S)


def hide_api_info_before_login(app) -> None:
    """Gradio's login page carries the app's API description (every endpoint, its parameters, the
    cities of the knowledge base as choices): before a login, that is emptied."""
    from starlette.responses import Response

    @app.middleware("http")
    async def strip_api_info(request, call_next):
        response = await call_next(request)
        if request.method != "GET" or not response.headers.get("content-type", "").startswith("text/html"):
            return response
        body = b"".join([part async for part in response.body_iterator])
        if LOGIN_PAGE in body:
            body = API_INFO.sub(b"window.gradio_api_info = null;</script>", body, count=1)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return Response(body, status_code=response.status_code, headers=headers, media_type=response.media_type)


def console_progress(prefix: str = "索引"):
    """A (fraction, message) callback that logs at most every 2 s (and at the end)."""
    last = [0.0]

    def report(fraction: float, message: str) -> None:
        now = time.monotonic()
        if fraction >= 1.0 or now - last[0] >= 2.0:
            last[0] = now
            log.info("[%s] %3.0f%% %s", prefix, fraction * 100, message)

    return report


def serve(host: str, port: int, kb_dir: str | Path | None = None, config: Config | None = None) -> int:
    """Open (or build) the knowledge base, warm up, and serve the page and the API until stopped."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr, force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = config or from_env()
    check_exposure(host, config)
    root = kb_root(kb_dir, config)
    t0 = time.perf_counter()
    log.info("opening the knowledge base at %s (the first start builds the index; this can take minutes)", root)
    kb = open_kb(root, progress=console_progress(), config=config)
    log.info("knowledge base ready: %d reports, %d passages (%.1f s)", len(kb.documents), len(kb.passages),
             time.perf_counter() - t0)
    try:  # load the tokenizer and the model now, so the first question is fast
        retrieve("去年地区生产总值增长多少", k=1, kb_dir=root, config=config)
    except Exception:  # noqa: BLE001 - warm-up only
        log.exception("warm-up failed")
    app = build_server(root, config, host, port)
    log.info("ready after %.1f s: page http://%s:%d/ , API http://%s:%d/v1", time.perf_counter() - t0,
             host, port, host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    return 0
