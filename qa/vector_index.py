"""Vector indexes by size: exact flat search for small collections, IVF above, and for large ones a
compressed, memory-mapped IVF index that proposes candidates plus the exact vectors, read
from a .npy file beside it, that score them (break-even points in docs/measurements.md, "Scale to
1000×").

    n ≤ FLAT_MAX_VECTORS        IndexFlatIP                 in RAM, exact
    n ≤ COMPRESS_MIN_VECTORS    IVF{4√n},Flat + direct map  in RAM (4·d bytes a vector)
    above                       IVF{4√n},SQ8 (mmap) + NAME.npy float32 read with pread: resident
                                memory is the IVF lists queries touch; the kernel can drop them again
"""
from __future__ import annotations

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


class ExactRows:
    """The exact vectors of a .npy file, read with pread a run of rows at a time. Not mapped: the
    pages read stay the kernel's page cache, never this process's resident memory (mapped, they
    counted as resident: 12-14 GB at 1000x), and concurrent readers share one descriptor."""

    def __init__(self, path: Path):
        self._file = open(path, "rb")
        if np.lib.format.read_magic(self._file) != (1, 0):  # as write_npy writes it
            raise ValueError(f"{path}: not a .npy file of format 1.0")
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(self._file)
        if len(shape) != 2 or fortran or dtype != np.float32:
            raise ValueError(f"{path}: not a C-ordered float32 matrix ({shape}, {dtype})")
        self.shape, self.dtype, self._offset = shape, dtype, self._file.tell()
        self._row_bytes = shape[1] * dtype.itemsize
        if os.fstat(self._file.fileno()).st_size != self._offset + shape[0] * self._row_bytes:
            raise ValueError(f"{path}: size does not match {shape}")

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, ids) -> np.ndarray:
        """The vectors of ids (any order, repeats allowed); adjacent ids are read together."""
        unique, inverse = np.unique(np.asarray(ids, dtype=np.int64), return_inverse=True)
        if len(unique) and not (0 <= unique[0] and unique[-1] < self.shape[0]):
            raise IndexError(f"row out of range 0..{self.shape[0] - 1}")
        out = np.empty((len(unique), self.shape[1]), self.dtype)
        runs = np.split(np.arange(len(unique)), np.flatnonzero(np.diff(unique) != 1) + 1) if len(unique) else []
        for run in runs:
            out[run[0] : run[-1] + 1] = self.range(int(unique[run[0]]), len(run))
        return out[inverse]

    def range(self, first: int, n: int) -> np.ndarray:
        n = max(0, min(n, self.shape[0] - first))
        data = os.pread(self._file.fileno(), n * self._row_bytes, self._offset + first * self._row_bytes)
        return np.frombuffer(data, self.dtype).reshape(n, self.shape[1])

    def __getitem__(self, rows: slice) -> np.ndarray:  # chunks, for exact_top
        start, stop, _ = rows.indices(self.shape[0])
        return self.range(start, stop - start)


class RefinedIndex:
    """A compressed IVF index that proposes k·k_factor candidates and exact vectors that rescore
    them; reconstruct* read the exact vectors. The IVF lists are memory-mapped, the exact vectors
    read from their file. It answers the calls retrieval makes of a FAISS index (search,
    reconstruct_batch, ntotal, d)."""

    def __init__(self, coarse: faiss.IndexIVF, exact: ExactRows):
        self.coarse, self.exact = coarse, exact
        self.ntotal, self.d = int(exact.shape[0]), int(exact.shape[1])

    def search(self, queries: np.ndarray, k: int, nprobe: int = 32, k_factor: int = 4) -> tuple[np.ndarray, np.ndarray]:
        _, found = self.coarse.search(queries, k * k_factor, params=faiss.SearchParametersIVF(nprobe=nprobe))
        scores, ids = np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64)
        for qi, (query, candidates) in enumerate(zip(queries, found)):
            candidates = np.unique(candidates[candidates >= 0])
            exact = self.reconstruct_batch(candidates) @ query
            best = np.argsort(-exact)[:k]
            scores[qi, : len(best)], ids[qi, : len(best)] = exact[best], candidates[best]
        return scores, ids

    def reconstruct_batch(self, ids) -> np.ndarray:
        return self.exact.rows(ids)

    def reconstruct(self, i: int) -> np.ndarray:
        return self.exact.rows([int(i)])[0]

    def reconstruct_n(self, i0: int, n: int) -> np.ndarray:
        return self.exact.range(i0, n)


def read_vector_index(path: Path):
    """The index written by write_vector_index: FAISS in RAM, or a RefinedIndex."""
    exact_path = path.with_suffix(".npy")
    if exact_path.exists():
        return RefinedIndex(faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY), ExactRows(exact_path))
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
