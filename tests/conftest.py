"""Shared fixtures: a small real knowledge base (three reports, real model, real FAISS on disk)."""
import shutil
from pathlib import Path

import pytest

from qa.ingest import load_documents

DATA = Path(__file__).resolve().parent.parent / "data" / "reports"
SMALL_CITIES = ("彬州市", "咸阳市", "宁波市")


@pytest.fixture(scope="session")
def embedder():
    from embeddings import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def small_sources(tmp_path_factory) -> Path:
    """Three reports written as separate user files (UTF-8 .txt)."""
    folder = tmp_path_factory.mktemp("sources")
    for doc in load_documents([DATA]).documents:
        if doc.city in SMALL_CITIES:
            (folder / f"{doc.city}.txt").write_text(doc.title + "\n" + doc.text, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def small_kb_dir(tmp_path_factory, small_sources, embedder) -> Path:
    from qa.index import build

    root = tmp_path_factory.mktemp("kb")
    build(root, sources=[small_sources], embedder=embedder)
    return root


@pytest.fixture
def kb_copy(tmp_path, small_kb_dir) -> Path:
    """A private copy of the small knowledge base that a test may damage."""
    dest = tmp_path / "kb"
    shutil.copytree(small_kb_dir, dest, symlinks=True)
    return dest


SLOW_FIXTURES = {"embedder", "small_kb_dir", "kb_copy"}  # the real model, a real index on disk


def pytest_collection_modifyitems(items):
    """Tests that load the real model or build an index are `slow`; browser tests are too, so that
    `pytest -m "not slow"` is the fast lane."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)
