"""Chinese keyword side: jieba tokens for BM25 (bm25s), built with the index and saved beside it."""
from __future__ import annotations

import logging
import re
from array import array
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import bm25s
import jieba
import numpy as np

from .text import normalize_zh

jieba.setLogLevel(logging.WARNING)

# Function words and question words carry no topic; keeping them only adds noise to BM25.
STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 等 也 都 就 而 对 把 被 为 以 于 其 之 或 并 从 到 向 给 让 将 这 那 哪 有 个 些 "
    "多少 什么 哪些 哪个 哪里 怎么 怎样 怎么样 如何 为什么 吗 呢 吧 啊 呀 么 几 多 大 要 想 能 会 "
    "我们 我 你 他 她 它 咱们 去年 今年 明年 具体 情况 一下 方面 请问".split()
)
_TOKEN_OK_RE = re.compile(r"[\w%]", re.UNICODE)
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")


def add_words(words: Iterable[str]) -> None:
    """Teach jieba domain words (city names, table terms) so they stay one token."""
    for word in words:
        if word:
            _add_word(normalize_zh(word))


@lru_cache(maxsize=None)
def _add_word(word: str) -> None:
    jieba.add_word(word, freq=2000)


def tokenize_zh(text: str) -> list[str]:
    """Search-mode jieba tokens (words and their sub-words), stopwords and punctuation dropped."""
    return [
        tok
        for tok in jieba.cut_for_search(normalize_zh(text), HMM=False)
        if tok.strip() and tok not in STOPWORDS and _TOKEN_OK_RE.search(tok)
    ]


def join_noun_suffixes(text: str, words: list[str]) -> list[str]:
    """jieba cuts a compound it does not know into a word and a one-character noun (「消费券」 ->
    消费 + 券); the noun alone is too short to keep, and 消费 alone also matches 「社会消费品」.
    Each of `words` followed in the text by such a noun, where the noun ends the run of single
    characters (「夜间文旅」 gives no 夜间文), is returned joined to it."""
    import jieba.posseg  # only here: its tables cost 0.3 s and 50 MB

    joined = list(words)
    tagged = list(jieba.posseg.cut(normalize_zh(text), HMM=False))
    for i, (word, following) in enumerate(zip(tagged, tagged[1:])):
        after = tagged[i + 2].word if i + 2 < len(tagged) else ""
        if (word.word in joined and len(following.word) == 1 and following.flag == "n"
                and not (len(after) == 1 and _HAN_RE.match(after))):
            joined[joined.index(word.word)] = word.word + following.word
    return joined


def build_bm25(token_lists: Iterable[list[str]]) -> bm25s.BM25:
    """The BM25 index of documents given as token lists, read once: each list becomes token ids
    at once (int32), so a large corpus never holds its tokens as Python strings (1000x the
    reports: 300 M tokens)."""
    vocab: dict[str, int] = {}
    ids, offsets = array("i"), array("q", [0])
    for tokens in token_lists:
        # An empty token list would make bm25s drop the document and shift every id after it.
        ids.extend([vocab.setdefault(t, len(vocab)) for t in tokens or ["<empty>"]])
        offsets.append(len(ids))
    index = bm25s.BM25()
    index.index(_TokenIds(np.frombuffer(ids, dtype=np.int32), np.frombuffer(offsets, dtype=np.int64), vocab),
                show_progress=False)
    return index


class _TokenIds:
    """bm25s's corpus "object" form (`ids`, `vocab`): `ids` gives each document's token ids as a
    short-lived list, from one flat int32 array."""

    def __init__(self, flat: np.ndarray, offsets: np.ndarray, vocab: dict[str, int]):
        self.flat, self.offsets, self.vocab = flat, offsets, vocab
        self.ids = self

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> list[int]:
        return self.flat[self.offsets[i] : self.offsets[i + 1]].tolist()

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def save_bm25(index: bm25s.BM25, folder: Path) -> None:
    index.save(str(folder))  # numpy arrays + JSON vocab; no pickle


def load_bm25(folder: Path, mmap: bool = False) -> bm25s.BM25:
    """mmap: the score arrays stay on disk, paged in as queries read them (large indexes)."""
    return bm25s.BM25.load(str(folder), allow_pickle=False, show_progress=False, mmap=mmap)


def in_vocabulary(index: bm25s.BM25, token: str) -> bool:
    """Is the token a word of the indexed passages? (bm25s also keeps "" as a token.)"""
    return bool(token.strip()) and token in index.vocab_dict


def bm25_scores(index: bm25s.BM25, query_tokens: list[str]) -> np.ndarray:
    """Scores of every passage for the query; zeros when no token is in the vocabulary."""
    ids = index.get_tokens_ids(query_tokens)
    if not ids:
        return np.zeros(index.scores["num_docs"], dtype=np.float32)
    return index.get_scores_from_ids(ids)
