"""Vector indexes by size: exact flat search for small collections, IVF above, and for large ones a
compressed, memory-mapped IVF index that proposes candidates plus the exact vectors, memory-mapped
from a .npy file beside it, that score them (break-even points in docs/measurements.md, "Scale to
1000×").

    n ≤ FLAT_MAX_VECTORS        IndexFlatIP                 in RAM, exact
    n ≤ COMPRESS_MIN_VECTORS    IVF{4√n},Flat + direct map  in RAM (4·d bytes a vector)
    above                       IVF{4√n},SQ8 (mmap) + NAME.npy float32 (mmap): resident memory is
                                what queries touch; the kernel can drop it again
"""
from __future__ import annotations

import mmap
import os
from pathlib import Path

import faiss
import numpy as np

FLAT_MAX_VECTORS = 100_000  # flat search is exact and fast up to here (≈ 150 MB)
COMPRESS_MIN_VECTORS = 1_000_000  # IVF-Flat in RAM up to here (≈ 1.5 GB at 384 dimensions)
COMPRESSED_CODE = "SQ8"  # 1 byte a dimension; candidates are rescored exactly from the .npy file
TRAIN_PER_LIST = 40  # training sample: this many vectors per IVF list (faiss's advice: 30-256)
ADD_CHUNK = 200_000  # vectors added (and read from disk) at a time


MAX_NLIST = 4096  # more lists cost training and assignment (n · nlist) without faster queries here


def nlist_for(n: int) -> int:
    return min(int(4 * np.sqrt(n)), MAX_NLIST)


def _train_sample(vectors: np.ndarray, nlist: int) -> np.ndarray:
    n = len(vectors)
    rows = np.sort(np.random.default_rng(0).choice(n, size=min(n, TRAIN_PER_LIST * nlist), replace=False))
    return np.ascontiguousarray(vectors[rows], dtype=np.float32)


def make_ivf(vectors: np.ndarray, code: str) -> faiss.IndexIVF:
    """IVF{4√n},<code>, trained on a sample and filled chunk by chunk (vectors may be a memmap)."""
    n, dim = vectors.shape
    nlist = nlist_for(n)
    index = faiss.index_factory(dim, f"IVF{nlist},{code}", faiss.METRIC_INNER_PRODUCT)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # a build may use every core (queries use one)
    try:
        index.train(_train_sample(vectors, nlist))
        for i in range(0, n, ADD_CHUNK):
            index.add(np.ascontiguousarray(vectors[i : i + ADD_CHUNK], dtype=np.float32))
    finally:
        faiss.omp_set_num_threads(threads)
    return index


def write_vector_index(vectors: np.ndarray, path: Path, flat_max: int | None = None,
                       compress_min: int | None = None) -> str:
    """Write the index for `vectors` at path (NAME.faiss, and NAME.npy when compressed). Returns
    its kind, for the manifest."""
    flat_max = FLAT_MAX_VECTORS if flat_max is None else flat_max
    compress_min = COMPRESS_MIN_VECTORS if compress_min is None else compress_min
    n, dim = vectors.shape
    if n <= flat_max:
        index = faiss.IndexFlatIP(dim)
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    elif n <= compress_min:
        index = make_ivf(vectors, "Flat")
    else:
        write_npy(path.with_suffix(".npy"), (vectors[i : i + ADD_CHUNK] for i in range(0, n, ADD_CHUNK)), (n, dim))
        index = make_ivf(vectors, COMPRESSED_CODE)
        faiss.write_index(index, str(path))
        return f"{type(index).__name__}+exact"
    faiss.write_index(index, str(path))
    return type(index).__name__


def write_npy(path: Path, blocks, shape: tuple[int, int]) -> None:
    """A float32 .npy file written block by block with plain writes (no mapping, so the pages
    written do not count as this process's memory)."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
        rows = 0
        for block in blocks:
            block = np.ascontiguousarray(block, dtype=np.float32)
            f.write(block.tobytes())
            rows += len(block)
    if rows != shape[0]:
        raise ValueError(f"{path}: {rows} rows written, {shape[0]} expected")


class RefinedIndex:
    """A compressed IVF index that proposes k·k_factor candidates and exact vectors that rescore
    them; reconstruct* read the exact vectors. Both are memory-mapped. It answers the calls
    retrieval makes of a FAISS index (search, reconstruct_batch, ntotal, d)."""

    def __init__(self, coarse: faiss.IndexIVF, exact: np.ndarray):
        self.coarse, self.exact = coarse, exact
        self.ntotal, self.d = int(exact.shape[0]), int(exact.shape[1])

    def search(self, queries: np.ndarray, k: int, nprobe: int = 32, k_factor: int = 4) -> tuple[np.ndarray, np.ndarray]:
        _, found = self.coarse.search(queries, k * k_factor, params=faiss.SearchParametersIVF(nprobe=nprobe))
        scores, ids = np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64)
        for qi, (query, candidates) in enumerate(zip(queries, found)):
            candidates = np.unique(candidates[candidates >= 0])  # sorted: the file is read in order
            exact = self.reconstruct_batch(candidates) @ query
            best = np.argsort(-exact)[:k]
            scores[qi, : len(best)], ids[qi, : len(best)] = exact[best], candidates[best]
        return scores, ids

    def reconstruct_batch(self, ids) -> np.ndarray:
        return np.asarray(self.exact[np.asarray(ids, dtype=np.int64)], dtype=np.float32)

    def reconstruct(self, i: int) -> np.ndarray:
        return np.asarray(self.exact[int(i)], dtype=np.float32)

    def reconstruct_n(self, i0: int, n: int) -> np.ndarray:
        return np.asarray(self.exact[i0 : i0 + n], dtype=np.float32)


def read_vector_index(path: Path):
    """The index written by write_vector_index: FAISS in RAM, or a RefinedIndex (memory-mapped)."""
    exact_path = path.with_suffix(".npy")
    if exact_path.exists():
        coarse = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        exact = np.load(exact_path, mmap_mode="r")
        # Rows are read a few at a time, anywhere: without this each one reads ahead 128 KB
        # (measured at 1000x: 12 GB of file pages resident after 393 queries).
        exact._mmap.madvise(mmap.MADV_RANDOM)
        return RefinedIndex(coarse, exact)
    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexIVF):
        index.make_direct_map()  # reconstruct() by id, for exact scoring of candidates
    return index


def ann_search(index, query: np.ndarray, n: int, nprobe: int, k_factor: int) -> np.ndarray:
    """Ids of the (approximately) n nearest vectors of the whole index."""
    n = min(n, index.ntotal)
    if n == 0:
        return np.zeros(0, np.int64)
    if isinstance(index, RefinedIndex):
        _, found = index.search(query.reshape(1, -1), n, nprobe, k_factor)
    else:
        params = faiss.SearchParametersIVF(nprobe=nprobe) if isinstance(index, faiss.IndexIVF) else None
        _, found = index.search(query.reshape(1, -1), n, params=params)
    return found[0][found[0] >= 0]


def exact_top(exact: np.ndarray, queries: np.ndarray, k: int, chunk: int = 500_000) -> np.ndarray:
    """Exact top-k ids by inner product, reading the vectors (a memmap) a chunk at a time."""
    best_s = np.full((len(queries), 0), -np.inf, np.float32)
    best_i = np.zeros((len(queries), 0), np.int64)
    for i in range(0, len(exact), chunk):
        s = np.asarray(exact[i : i + chunk], dtype=np.float32) @ queries.T  # (chunk, q)
        top = np.argpartition(-s, min(k, len(s)) - 1, axis=0)[:k].T  # (q, k)
        best_s = np.hstack([best_s, np.take_along_axis(s.T, top, axis=1)])
        best_i = np.hstack([best_i, top + i])
        keep = np.argsort(-best_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    return best_i
