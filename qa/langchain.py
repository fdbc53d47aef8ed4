"""LangChain view of retrieval: a BaseRetriever returning Documents with the Passage metadata."""
from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever

from .pipeline import retrieve


class ReportRetriever(BaseRetriever):
    k: int = 5
    city: str | list[str] | None = None
    kb_dir: str | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        docs = []
        for p in retrieve(query, k=self.k, city=self.city, kb_dir=self.kb_dir):
            meta = p.to_dict()
            docs.append(LCDocument(page_content=meta.pop("text"), metadata=meta, id=p.id))
        return docs


def as_retriever(k: int = 5, city: str | list[str] | None = None, kb_dir: str | None = None) -> ReportRetriever:
    return ReportRetriever(k=k, city=city, kb_dir=None if kb_dir is None else str(kb_dir))
