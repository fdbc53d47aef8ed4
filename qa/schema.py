"""Plain data records that flow through the pipeline: Document -> Passage -> Answer."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

History = list[tuple[str, str]]  # (user question, assistant answer) pairs, oldest first


@dataclass
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


@dataclass
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


@dataclass
class Answer:
    """`text` carries markers [n] that refer to `citations[n-1]`."""

    text: str
    citations: list[Passage] = field(default_factory=list)
    refused: bool = False
    related: list[Passage] = field(default_factory=list)  # closest passages shown when refused
    question: str = ""  # the standalone question actually searched (after follow-up rewriting)
    mode: str = "extractive"  # "extractive" | "llm" | "llm-repaired" | "llm-fallback"
    note: str = ""  # what the UI should tell the user about how the answer was made
