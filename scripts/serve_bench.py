"""Fresh checkout to serving: clone the repository, start `python app.py`, time until the page loads;
then start it again (warm: the index is on disk).

    python scripts/serve_bench.py [--repo .] [--model-cache present|absent|both]

A clone has no kb/ (git-ignored), so the app builds the bundled reports' index on start. With
"absent" the app gets an empty QA_CACHE_DIR (no converted model); with "present" the user's
cache (default ~/.cache/report-qa). Installing packages is not part of the time. Prints the
seconds to the first HTTP 200 and the build line of the log.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def wait_for(url: str, proc: subprocess.Popen, timeout: float) -> float | None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            return None
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.2)
    return None


def run(repo: Path, cache: str | None, port: int, timeout: float) -> None:
    with tempfile.TemporaryDirectory(prefix="qa-fresh-") as tmp:
        clone = Path(tmp) / "report-qa"
        subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
        extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != repo.resolve()]
        env["PYTHONPATH"] = os.pathsep.join([str(clone), *extra])  # the clone's code, not the worktree's
        env["QA_CACHE_DIR"] = cache or str(Path(tmp) / "empty-cache")
        label = "model cache present" if cache else "model cache absent"
        # The first start builds the index (a fresh clone has no kb/); the second finds it on disk.
        for start in (f"fresh clone, {label}", "warm start, same clone (index on disk)"):
            t, lines = _start_app(clone, env, port, timeout, Path(tmp) / "app.log")
            print(f"{start}: " + (f"serving after {t:.1f} s" if t else "NOT serving"), "|", " | ".join(lines))


def _start_app(clone: Path, env: dict, port: int, timeout: float, log_path: Path) -> tuple[float | None, list[str]]:
    """Seconds from `python app.py` to the page's first HTTP 200, and the log's build lines."""
    log = open(log_path, "w+")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=clone, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        t1 = wait_for(f"http://127.0.0.1:{port}/", proc, timeout)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    log.seek(0)
    keep = ("embedded", "knowledge base ready", "ready after", "Traceback")
    lines = [line.split(": ", 1)[-1].strip() for line in log if any(k in line for k in keep)]
    log.close()
    return (t1 - t0 if t1 else None), lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    ap.add_argument("--model-cache", choices=["present", "absent", "both"], default="both")
    ap.add_argument("--port", type=int, default=7931)
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import gradio"], check=True)
    print(f"python -c 'import gradio': {time.perf_counter() - t0:.1f} s (for scale: the same machine, now)")
    present = os.environ.get("QA_CACHE_DIR") or str(Path.home() / ".cache" / "report-qa")
    for which in (["absent", "present"] if args.model_cache == "both" else [args.model_cache]):
        run(args.repo, present if which == "present" else None, args.port, args.timeout)


if __name__ == "__main__":
    main()
