"""Plain records that flow through the pipeline: Document -> Passage -> Citation -> Answer."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

History = list[tuple[str, str]]  # (user question, assistant answer) pairs, oldest first


@dataclass(frozen=True)
class Document:
    """One report (or one user file) as ingested: `text` is the cleaned text all offsets refer to."""

    doc_id: str
    title: str
    text: str
    source: str
    city: str | None = None
    year: int | None = None
    # "report" (a city/region's work report: report priors apply) or "generic" (any other text),
    # decided at ingest by qa.kinds.classify_document and stored in the index.
    kind: str = "report"


@dataclass(frozen=True, slots=True)  # slots: millions of passages at scale (docs/measurements.md)
class Passage:
    """A chunk of a document; `document.text[start:end] == text`."""

    id: str
    text: str
    title: str
    city: str | None
    year: int | None
    section: str
    source: str
    start: int
    end: int
    doc_id: str = ""
    score: float = 0.0
    kind: str = "report"  # its document's kind

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Citation:
    """A cited passage and the spans of it that the answer quotes or states, as document
    offsets (start <= a < b <= end), so a page highlights them without searching."""

    passage: Passage
    spans: tuple[tuple[int, int], ...] = ()

    def quoted(self) -> list[str]:
        """The cited texts."""
        return [self.passage.text[a - self.passage.start : b - self.passage.start] for a, b in self.spans]

    def to_dict(self) -> dict:
        return {**self.passage.to_dict(), "spans": [list(s) for s in self.spans]}


@dataclass(frozen=True)
class Answer:
    """`text` carries markers [n] that refer to `citations[n-1]`."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    related: list[Passage] = field(default_factory=list)  # closest passages shown when refused
    question: str = ""  # the standalone question actually searched (after follow-up rewriting)
    mode: str = "extractive"  # "extractive" | "facts" | "llm" | "llm-repaired" | "llm-fallback"
    note: str = ""  # what the UI should tell the user about how the answer was made
    rows: list[dict] = field(default_factory=list)  # a facts answer's table: city, value, unit, qualifiers, marker, note

    def to_dict(self) -> dict:
        """The structured answer (the CLI's --json and the HTTP API print this)."""
        return {"text": self.text, "refused": self.refused, "mode": self.mode, "note": self.note,
                "question": self.question, "citations": [c.to_dict() for c in self.citations],
                "related": [p.to_dict() for p in self.related], "rows": self.rows}
