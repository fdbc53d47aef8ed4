"""The passages of a loaded knowledge base as columns (document, start, end, section), each Passage
made when it is read. A passage is a slice of its document's text, so the text is held once: at
1000x the 1.8 M Passage objects held 1.66 GB, these columns ≈ 60 MB (docs/measurements.md)."""
from __future__ import annotations

import sys
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence

import numpy as np

from .schema import Document, Passage


class PassageTable(Sequence):
    """Row i is the knowledge base's passage i (FAISS id i, BM25 document i)."""

    def __init__(self, documents: list[Document], doc: np.ndarray, start: np.ndarray, end: np.ndarray,
                 sections: list[str], section: np.ndarray, ids: dict[int, str]):
        self.documents, self.doc, self.start, self.end = documents, doc, start, end
        self.sections, self.section, self._ids = sections, section, ids  # ids: only those not "doc:start-end"

    @classmethod
    def from_rows(cls, rows: Iterable[tuple], documents: dict[str, Document]) -> "PassageTable":
        """From (id, doc_id, section, start, end) rows; ValueError names the first row that names no
        document or holds a value of the wrong type or out of its document."""
        docs = list(documents.values())
        doc_number = {d.doc_id: i for i, d in enumerate(docs)}
        section_number: dict[str, int] = {}
        doc, start, end, section, ids = [], [], [], [], {}
        for row, (pid, doc_id, sec, a, b) in enumerate(rows):
            d = documents.get(doc_id)
            if d is None or not isinstance(sec, str) or not (
                    isinstance(a, int) and isinstance(b, int) and 0 <= a <= b <= len(d.text)):
                raise ValueError(f"段落 {pid} 的文档或位置不对")
            if pid != f"{doc_id}:{a}-{b}":
                ids[row] = pid
            doc.append(doc_number[doc_id])
            start.append(a)
            end.append(b)
            section.append(section_number.setdefault(sec, len(section_number)))
        return cls(docs, np.asarray(doc, np.int32), np.asarray(start, np.int64), np.asarray(end, np.int64),
                   [sys.intern(s) for s in section_number], np.asarray(section, np.int32), ids)

    def __len__(self) -> int:
        return len(self.doc)

    def __getitem__(self, i: int | slice) -> Passage | list[Passage]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]  # negative rows count from the end; IndexError beyond
        d = self.documents[self.doc[i]]
        a, b = int(self.start[i]), int(self.end[i])
        return Passage(id=self._ids.get(i) or f"{d.doc_id}:{a}-{b}", text=d.text[a:b], title=d.title, city=d.city,
                       year=d.year, section=self.sections[self.section[i]], source=d.source, start=a, end=b,
                       doc_id=d.doc_id, kind=d.kind)

    def __iter__(self) -> Iterator[Passage]:
        return (self[i] for i in range(len(self)))

    def rows_where(self, keep: Callable[[Document], bool]) -> np.ndarray:
        """Rows whose document satisfies keep(document), in order."""
        wanted = np.array([bool(keep(d)) for d in self.documents], dtype=bool)
        return np.flatnonzero(wanted[self.doc]) if len(self.doc) else np.zeros(0, np.int64)

    def rows_by(self, key: Callable[[Document], Hashable]) -> dict:
        """Rows grouped by key(document), each group in row order."""
        keys = [key(d) for d in self.documents]
        number = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        of_row = np.array([number[k] for k in keys], np.int64)[self.doc] if len(self.doc) else np.zeros(0, np.int64)
        order = np.argsort(of_row, kind="stable")
        bounds = np.searchsorted(of_row[order], np.arange(len(number) + 1))
        return {k: order[bounds[i] : bounds[i + 1]] for k, i in number.items() if bounds[i] < bounds[i + 1]}

    def starts_by_doc(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """For each document, its passages' start offsets, ascending, and their rows."""
        order = np.lexsort((self.start, self.doc))
        doc_sorted = self.doc[order]
        bounds = np.searchsorted(doc_sorted, np.arange(len(self.documents) + 1))
        return {d.doc_id: (self.start[order[bounds[i] : bounds[i + 1]]], order[bounds[i] : bounds[i + 1]])
                for i, d in enumerate(self.documents) if bounds[i] < bounds[i + 1]}
