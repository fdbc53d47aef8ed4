"""The loaded passages as columns (qa/passage_table.py): each Passage made on reading equals the one
the chunker wrote, and the store's rows are checked as they are read."""
import pytest

from qa.chunking import ChunkConfig, chunk_document
from qa.index import load
from qa.passage_table import PassageTable


def test_the_table_reads_back_the_passages_the_chunker_made(small_kb_dir):
    kb = load(small_kb_dir)
    made = [p for d in kb.documents.values() for p in chunk_document(d, ChunkConfig())]
    assert list(kb.passages) == made  # every field, text included
    assert kb.passages[-1] == made[-1] and kb.passages[3:6] == made[3:6]
    with pytest.raises(IndexError):
        kb.passages[len(made)]
    for doc_id in kb.documents:
        rows = [r for r, p in enumerate(made) if p.doc_id == doc_id]
        assert list(kb.rows_by_city[made[rows[0]].city]) == [r for r, p in enumerate(made) if p.city == made[rows[0]].city]
        p = made[rows[len(rows) // 2]]
        assert kb.passage_at(doc_id, p.start) == p and kb.passage_at(doc_id, p.end - 1) == p


def test_a_row_that_names_no_document_or_leaves_it_is_refused(small_kb_dir):
    documents = load(small_kb_dir).documents
    doc = next(iter(documents.values()))
    ok = ("x", doc.doc_id, "一、", 0, 10)
    assert PassageTable.from_rows([ok], documents)[0].id == "x"  # an id of another form is kept
    for bad in (("x", "nowhere", "一、", 0, 10), ("x", doc.doc_id, "一、", 5, 4),
                ("x", doc.doc_id, "一、", 0, len(doc.text) + 1), ("x", doc.doc_id, None, 0, 10), ("x", doc.doc_id, "一、", "0", 10)):
        with pytest.raises(ValueError):
            PassageTable.from_rows([ok, bad], documents)
