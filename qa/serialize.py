"""An Answer as plain JSON-ready data and as plain text with a sources list.

One serializer for every way out: the HTTP API (`report_qa` field), `python -m qa ask --json`
and the chat's Markdown export all use `answer_record`. Offsets are document offsets
(`document.text[start:end]`), so a client can locate a passage or a cited span in the report.
"""
from __future__ import annotations

from .schema import Answer, Passage

SOURCES_HEADING = "来源："  # starts the sources list after an answer's text
NOTE_PREFIX = "提示："


def cited(citation) -> tuple[Passage, tuple[tuple[int, int], ...]]:
    # A Citation carries (passage, spans); a bare Passage (older records) cites no span.
    if hasattr(citation, "passage"):
        return citation.passage, tuple(citation.spans)
    return citation, ()


def passage_record(p: Passage) -> dict:
    """A passage with its report, section and document offsets."""
    return {"doc_id": p.doc_id, "passage_id": p.id, "title": p.title, "city": p.city, "year": p.year,
            "section": p.section, "source": p.source, "start": p.start, "end": p.end,
            "score": round(float(p.score), 6), "text": p.text}


def span_record(p: Passage, start: int, end: int) -> dict:
    return {"start": start, "end": end, "text": p.text[start - p.start : end - p.start]}


def citation_record(n: int, citation) -> dict:
    """Citation [n]: its passage and the cited spans inside it (document offsets and text)."""
    passage, spans = cited(citation)
    return {"n": n, **passage_record(passage), "spans": [span_record(passage, s, e) for s, e in spans]}


def answer_record(answer: Answer) -> dict:
    """Everything a client needs: the answer text with [n] markers, whether it is a refusal,
    how it was made, the citations [n] refers to, and (for a refusal) the closest passages."""
    return {
        "question": answer.question,  # as searched: a follow-up made standalone
        "text": answer.text,
        "refused": answer.refused,
        "mode": answer.mode,
        "note": answer.note,
        "citations": [citation_record(n, c) for n, c in enumerate(answer.citations, 1)],
        "related": [passage_record(p) for p in answer.related],
    }


def sources_block(answer: Answer) -> str:
    """What follows the answer text for plain clients: the note and a short list of sources."""
    lines = []
    if answer.note:
        lines += ["", "", f"{NOTE_PREFIX}{answer.note}"]
    if answer.citations:
        lines += ["", "", SOURCES_HEADING]
        for n, citation in enumerate(answer.citations, 1):
            p, _ = cited(citation)
            section = f" {p.section}" if p.section else ""
            lines.append(f"[{n}] 《{p.title}》{section}")
    return "\n".join(lines) if lines else ""


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


# ---------------------------------------------------------------- back from records (API clients)


def passage_from_record(r: dict) -> Passage:
    return Passage(id=r["passage_id"], text=r["text"], title=r["title"], city=r["city"], year=r["year"],
                   section=r["section"], source=r["source"], start=r["start"], end=r["end"], doc_id=r["doc_id"],
                   score=r.get("score", 0.0))


def answer_from_record(r: dict) -> Answer:
    """The Answer an `answer_record` was made from (as far as the record tells)."""
    citations = [passage_from_record(c) for c in r["citations"]]
    return Answer(text=r["text"], citations=citations, refused=r["refused"],
                  related=[passage_from_record(p) for p in r["related"]], question=r["question"], mode=r["mode"],
                  note=r["note"])
