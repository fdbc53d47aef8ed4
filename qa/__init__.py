"""report-qa: question answering with citations over Chinese government work reports.

Data flows file -> answer through `qa.pipeline` (read it first):
ingest (files -> Documents) -> chunking (-> Passages) -> index (FAISS + BM25 + SQLite on disk)
-> query (cities, years, synonyms) -> retrieve (hybrid, report-aware) -> answer (cited).
"""
from .answer import ask, ask_stream
from .langchain import as_retriever
from .pipeline import open_kb, retrieve
from .schema import Answer, Document, Passage

__all__ = ["Answer", "Document", "Passage", "as_retriever", "ask", "ask_stream", "open_kb", "retrieve"]
