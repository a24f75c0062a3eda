"""``PolicyRetriever``: the hybrid search as a LangChain ``BaseRetriever`` (documents carry the
passage metadata). A module of its own so that answering a question does not import LangChain;
``from assistant.retrieval import PolicyRetriever`` still works."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from .retrieval import RetrievalFilters


class PolicyRetriever(BaseRetriever):
    """LangChain retriever over the hybrid search; documents carry the passage metadata."""

    search: Any
    k: int = 8
    sources: list[str] | None = None
    section_kinds: list[str] | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.search.search(query, k=self.k, filters=RetrievalFilters(self.sources, self.section_kinds))
        return [
            Document(
                page_content=h.passage.text,
                id=h.passage.passage_id,
                metadata={
                    "passage_id": h.passage.passage_id,
                    "source": h.passage.source,
                    "title": h.passage.title,
                    "section": h.passage.section_path,
                    "section_kind": h.passage.section_kind,
                    "start_line": h.passage.start_line,
                    "end_line": h.passage.end_line,
                    "score": h.score,
                },
            )
            for h in hits
        ]
