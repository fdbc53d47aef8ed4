"""An Answer as plain text for chat clients (text, note, a short sources list), and back from
the structured record `Answer.to_dict()` that the HTTP API (`report_qa`), `python -m qa ask
--json` and the chat's Markdown export share.

The record's offsets are document offsets: passage `start`/`end`, and each citation's `spans`
as [start, end] pairs inside it (`passage.text[a - start : b - start]` is the cited text).
"""
from __future__ import annotations

from .schema import Answer, Citation, Passage

SOURCES_HEADING = "来源："  # starts the sources list after an answer's text
NOTE_PREFIX = "提示："


def sources_block(answer: Answer) -> str:
    """What follows the answer text for plain clients: the note and a short list of sources."""
    lines = []
    if answer.note:
        lines += ["", "", f"{NOTE_PREFIX}{answer.note}"]
    if answer.citations:
        lines += ["", "", SOURCES_HEADING]
        for n, citation in enumerate(answer.citations, 1):
            p = citation.passage
            section = f" {p.section}" if p.section else ""
            lines.append(f"[{n}] 《{p.title}》{section}")
    return "\n".join(lines)


def answer_with_sources(answer: Answer) -> str:
    """The answer text (markers kept) followed by the note and the sources list."""
    return answer.text + sources_block(answer)


def strip_sources(text: str) -> str:
    """An earlier answer as sent by `answer_with_sources`, without what it appended."""
    for marker in (f"\n\n{NOTE_PREFIX}", f"\n\n{SOURCES_HEADING}\n"):
        at = text.find(marker)
        if at >= 0:
            text = text[:at]
    return text.strip()


def passage_from_record(record: dict) -> Passage:
    return Passage(**{name: record[name] for name in Passage.__dataclass_fields__ if name in record})


def answer_from_record(record: dict) -> Answer:
    """The Answer that `Answer.to_dict()` made the record from."""
    citations = [Citation(passage_from_record(c), tuple(tuple(s) for s in c["spans"])) for c in record["citations"]]
    return Answer(text=record["text"], citations=citations, refused=record["refused"],
                  related=[passage_from_record(p) for p in record["related"]], question=record["question"],
                  mode=record["mode"], note=record["note"], rows=record.get("rows", []))
