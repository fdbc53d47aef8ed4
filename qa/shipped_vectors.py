"""Sentence vectors that ship with the bundled reports, so a fresh checkout embeds nothing it knows.

Two committed files in ``data/reports/vectors/`` (no pickle: ``np.load(allow_pickle=False)``):

    sentences.npy    float16 rows, L2-normalized before rounding (cosine to float32 ≥ 0.99999)
    sentences.json   {"model_id", "made_by", "dim", "count", "keys": [first 32 hex digits of
                     the sha256 of each embedded text, in row order], "npy_sha256"}

``scripts/ship_vectors.py`` regenerates them with the reference backend (torch, float32); the
build (qa/index.py ``embed_with_cache``) takes a vector from here when its own cache lacks it and
``model_id`` (model and prompts) is the embedder's. They are used whatever backend embeds new
text: every backend is measured against torch float32 (cosine ≥ 0.995 per vector, see
tests/test_onnx_backend.py), so a shipped vector is at least as close to the reference as the one
the backend would make.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "data" / "reports" / "vectors"
VECTORS, KEYS = "sentences.npy", "sentences.json"
KEY_HEX = 32  # 128 bits of the text's sha256: no collision among any realistic number of sentences


def shipped_key(text_hash: str) -> str:
    return text_hash[:KEY_HEX]


@dataclass(frozen=True)
class ShippedVectors:
    model_id: str
    made_by: str
    rows: dict[str, int]  # key -> row
    vectors: np.ndarray  # float16, (count, dim)

    def get_many(self, model_id: str, hashes: list[str]) -> dict[str, np.ndarray]:
        """float32 unit vectors for the text hashes (full sha256 hex) that ship, for model_id."""
        if model_id != self.model_id:
            return {}
        found = {h: self.rows[k] for h in hashes if (k := shipped_key(h)) in self.rows}
        if not found:
            return {}
        vecs = self.vectors[list(found.values())].astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        return dict(zip(found, vecs))


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def load_shipped(folder: Path = SHIPPED_DIR) -> ShippedVectors | None:
    """The shipped vectors, or None (logged) when absent or inconsistent: the build then embeds."""
    try:
        meta = json.loads((folder / KEYS).read_text(encoding="utf-8"))
        vectors = np.load(folder / VECTORS, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as exc:
        if (folder / KEYS).exists():
            log.warning("shipped vectors in %s unreadable (%s): embedding instead", folder, exc)
        return None
    keys = meta.get("keys", [])
    if vectors.dtype != np.float16 or vectors.shape != (len(keys), meta.get("dim")) or meta.get("npy_sha256") != _sha256(folder / VECTORS):
        log.warning("shipped vectors in %s do not match their key list: embedding instead", folder)
        return None
    return ShippedVectors(meta["model_id"], meta.get("made_by", ""), {k: i for i, k in enumerate(keys)}, vectors)


def write_shipped(folder: Path, model_id: str, made_by: str, text_hashes: list[str], vectors: np.ndarray) -> None:
    """Write the two files (vectors first; each replaced atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = [shipped_key(h) for h in text_hashes]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate texts (or a key collision) in the shipped vectors")
    tmp = folder / f".{VECTORS}.tmp"
    with open(tmp, "wb") as fh:
        np.save(fh, np.asarray(vectors, dtype=np.float16), allow_pickle=False)
    os.replace(tmp, folder / VECTORS)
    meta = {"model_id": model_id, "made_by": made_by, "dim": int(vectors.shape[1]), "count": len(keys),
            "npy_sha256": _sha256(folder / VECTORS), "keys": keys}
    tmp = folder / f".{KEYS}.tmp"
    # one key per line: a regenerated file diffs line by line
    text = json.dumps(meta, ensure_ascii=False, indent=0)
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, folder / KEYS)
