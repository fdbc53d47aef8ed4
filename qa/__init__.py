"""report-qa: question answering with citations over Chinese government work reports.

Data flows file -> answer through `qa.pipeline` (read it first):
ingest (files -> Documents) -> chunking (-> Passages) -> index (FAISS + BM25 + SQLite on disk)
-> query (one Question record) -> retrieve (hybrid, report-aware) -> answer (cited spans; facts for statistics).
"""
from .answer import ask, ask_stream
from .facts import Fact
from .pipeline import facts, open_kb, retrieve
from .schema import Answer, Citation, Document, Passage

__all__ = ["Answer", "Citation", "Document", "Fact", "Passage", "as_retriever", "ask", "ask_stream", "facts", "open_kb",
           "retrieve"]


def __getattr__(name: str):
    # langchain-core takes ≈ 0.35 s to import: only those who ask for the retriever pay for it.
    if name == "as_retriever":
        from .langchain import as_retriever

        return as_retriever
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
