"""Run the real server (`python -m qa serve`, or `python app.py`) as a child process on a free
loopback port, in its own session, and stop it again: for the tests and scripts/api_bench.py."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SETTINGS = ("QA_AUTH", "QA_AUTH_FILE", "QA_API_KEY", "QA_LLM")  # the test sets these itself


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serving(url: str) -> bool:
    """The server answers GET url (possibly behind a login or a key)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except urllib.error.HTTPError as exc:
        return exc.code in (401, 403)  # up, behind a login or a key
    except OSError:
        return False


@contextmanager
def running_server(kb: Path, log_path: Path, env: dict | None = None, command: list[str] | None = None,
                   timeout: float = 300):
    """Starts the server over the knowledge base `kb` (extra `env`), logging to log_path; yields
    {"url", "port", "started", "serving" (seconds to serve), "log"} once GET / answers, and stops
    it (SIGTERM to its session) on exit. Raises RuntimeError when it exits or does not serve."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    full_env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    full_env.update(QA_KB_DIR=str(kb), PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT), **(env or {}))
    command = command or [sys.executable, "-m", "qa", "serve"]
    started = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*command, "--port", str(port)], cwd=ROOT, env=full_env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while not serving(url):
                if proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not serve {url} within {timeout} s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.3)
            yield {"url": url, "port": port, "started": started, "serving": time.perf_counter() - started, "log": log_path}
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and nothing else
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
