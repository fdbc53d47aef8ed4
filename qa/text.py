"""Chinese text helpers used across the pipeline: normalisation, sentence spans, character
bigrams, and whole-number matching. Written once here; every module uses these."""
from __future__ import annotations

import re
import unicodedata

# Sentence ends in this corpus: full-width 。！？； and ASCII !?; (ASCII "." is a decimal point
# here, so it never ends a sentence), plus any closing quotes/brackets right after them.
SENTENCE_END_RE = re.compile(r"[。！？；!?;…]+[”’」』）)]*|\n")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_CONTENT_RE = re.compile(r"[^\W_]", re.U)


def normalize_zh(text: str) -> str:
    """NFKC folds full-width forms (ＧＤＰ、１２３、，) so that both wordings match; lowercase ASCII."""
    return unicodedata.normalize("NFKC", text).lower()


def normalize_figures(text: str) -> str:
    """NFKC (３２６．３％ -> 326.3%) without thousands separators (12,345 -> 12345)."""
    return _THOUSANDS_RE.sub("", unicodedata.normalize("NFKC", text))


def split_sentences(text: str, start: int = 0, end: int | None = None,
                    end_re: re.Pattern = SENTENCE_END_RE) -> list[tuple[int, int]]:
    """Sentence spans [(start, end)] of text[start:end], whitespace trimmed, none empty."""
    end = len(text) if end is None else end
    spans, pos = [], start
    for m in end_re.finditer(text, start, end):
        spans.append((pos, m.end()))
        pos = m.end()
    spans.append((pos, end))
    return [s for s in (trim(text, a, b) for a, b in spans) if s[1] > s[0]]


def trim(text: str, a: int, b: int) -> tuple[int, int]:
    """The span without surrounding whitespace."""
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def bigrams(text: str) -> set[str]:
    """Character bigrams of the text's letters, digits and CJK characters (punctuation dropped)."""
    chars = "".join(_CONTENT_RE.findall(normalize_figures(text)))
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def has_content(text: str) -> bool:
    """Does the text hold any letter, digit or CJK character?"""
    return bool(_CONTENT_RE.search(text))


def contains_whole(text: str, key: str) -> bool:
    """Key occurs in text as a whole figure: a key that starts (ends) with a digit must not
    continue (be continued by) a longer number, so 「0.7%」 is not in 「30.7%」 and 6 not in 6.8."""
    if not key:
        return False
    start = text.find(key)
    while start >= 0:
        before = text[start - 1] if start else ""
        end = start + len(key)
        after = text[end] if end < len(text) else ""
        ok_before = not (key[0].isdigit() and (before.isdigit() or before == "."))
        ok_after = not (key[-1].isdigit() and (after.isdigit() or (after == "." and text[end + 1 : end + 2].isdigit())))
        if ok_before and ok_after:
            return True
        start = text.find(key, start + 1)
    return False
