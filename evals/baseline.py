"""The plain LangChain tutorial RAG pipeline, scored on the same questions as the assistant.

Raw report files read as they are (what ``TextLoader`` does) -> ``RecursiveCharacterTextSplitter
(chunk_size=1000, chunk_overlap=200, add_start_index=True)`` -> ``langchain_chroma.Chroma`` with the
assistant's own embedding model -> top-8 similarity search.  No history (follow-ups are asked on
their own), no refusals; the "answer" is the top-3 chunks, concatenated, marked [1] [2] [3], and
cited.  Each chunk's line span is derived from its start index, so the overlap metrics apply.

The Chroma index is persisted under ``<data_dir>/baseline_chroma`` in a collection keyed by a hash
of the source files, the splitter parameters and the model name, and reused by later runs.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from assistant.embeddings import get_embedder
from assistant.ingest import all_sources
from assistant.models import Answer, Citation, RetrievedPassage
from assistant.settings import Settings, get_settings

SPLITTER_PARAMS = {"chunk_size": 1000, "chunk_overlap": 200, "add_start_index": True}
TOP_K = 8
ANSWER_CHUNKS = 3
COLLECTION_PREFIX = "baseline_"
BASELINE_VERSION = "1"  # bump when the chunk metadata changes


class LocalEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over the assistant's own offline encoder, so that Chroma never
    falls back to its default embedding function (which downloads a model)."""

    def __init__(self, settings: Settings):
        self.embedder = get_embedder(settings)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed([text])[0].tolist()


@dataclass(frozen=True)
class RawReport:
    source: str
    title: str
    path: Path
    text: str


def load_reports(settings: Settings) -> list[RawReport]:
    """The report files as they are (the shipped ones and any text file the user added)."""
    out = []
    for src in all_sources(settings):
        text = src.path.read_text(encoding="utf-8")  # TextLoader-equivalent
        out.append(RawReport(src.meta.source, src.meta.title, src.path, text))
    return out


def line_span(text: str, start_index: int, chunk: str) -> tuple[int, int]:
    """1-based inclusive line numbers of ``chunk`` found at ``start_index`` in ``text``."""
    if start_index < 0 or text[start_index : start_index + len(chunk)] != chunk:
        start_index = max(text.find(chunk), 0)
    start = text.count("\n", 0, start_index) + 1
    end = text.count("\n", 0, start_index + max(len(chunk) - 1, 0)) + 1
    return start, end


def split_reports(reports: list[RawReport]) -> list[Document]:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(**SPLITTER_PARAMS)
    docs = [Document(page_content=r.text, metadata={"source": r.source, "title": r.title}) for r in reports]
    chunks = splitter.split_documents(docs)
    texts = {r.source: r.text for r in reports}
    for c in chunks:
        start, end = line_span(texts[c.metadata["source"]], int(c.metadata["start_index"]), c.page_content)
        c.metadata["start_line"], c.metadata["end_line"] = start, end
    return chunks


def index_key(settings: Settings, reports: list[RawReport]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"splitter": SPLITTER_PARAMS, "model": settings.embedding_model, "v": BASELINE_VERSION}, sort_keys=True).encode())
    for r in sorted(reports, key=lambda r: r.source):
        h.update(r.source.encode() + b"\0" + hashlib.sha256(r.text.encode("utf-8")).digest())
    return h.hexdigest()


def _readable_answer(chunk: str) -> str:
    """A chunk as one paragraph: line-break hyphenation joined, whitespace collapsed."""
    chunk = re.sub(r"([A-Za-zÀ-ÿ])-[ \t]*\n\s*([a-zà-ÿ])", r"\1\2", chunk)
    return re.sub(r"\s+", " ", chunk).strip()


class BaselineRAG:
    def __init__(self, settings: Settings | None = None, progress: bool = True):
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma

        self.settings = settings or get_settings()
        self.embeddings = LocalEmbeddings(self.settings)
        reports = load_reports(self.settings)
        self.key = index_key(self.settings, reports)
        self.collection_name = COLLECTION_PREFIX + self.key[:24]
        path = Path(self.settings.data_dir) / "baseline_chroma"
        path.mkdir(parents=True, exist_ok=True)
        self.client = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        )
        self.built = False
        chunks = split_reports(reports)
        self.n_chunks = len(chunks)
        if not self._reusable():
            self._build(chunks, progress)
        self.store = Chroma(
            client=self.client, collection_name=self.collection_name, embedding_function=self.embeddings
        )

    def _reusable(self) -> bool:
        names = [c if isinstance(c, str) else c.name for c in self.client.list_collections()]
        if self.collection_name not in names:
            return False
        col = self.client.get_collection(self.collection_name)
        return (col.metadata or {}).get("n_chunks") == self.n_chunks and col.count() == self.n_chunks

    def _build(self, chunks: list[Document], progress: bool) -> None:
        from langchain_chroma import Chroma
        from tqdm import tqdm

        for c in self.client.list_collections():  # stale or half-built baselines
            name = c if isinstance(c, str) else c.name
            if name.startswith(COLLECTION_PREFIX):
                self.client.delete_collection(name)
        store = Chroma(
            client=self.client,
            collection_name=self.collection_name,
            embedding_function=self.embeddings,
            collection_metadata={"n_chunks": self.n_chunks, "key": self.key},
        )
        ids = [f"{c.metadata['source']}:{c.metadata['start_index']}" for c in chunks]
        batch = 64
        with tqdm(total=len(chunks), desc="baseline index", unit="chunk", disable=not progress) as bar:
            for i in range(0, len(chunks), batch):
                store.add_documents(chunks[i : i + batch], ids=ids[i : i + batch])
                bar.update(len(chunks[i : i + batch]))
        self.built = True

    def ask(self, question: str, history: list[str] | None = None) -> Answer:
        """``history`` is ignored: the tutorial pipeline has no conversation memory."""
        t0 = time.perf_counter()
        hits = self.store.similarity_search_with_score(question, k=TOP_K)
        t1 = time.perf_counter()
        retrieved = []
        for doc, distance in hits:
            m = doc.metadata
            retrieved.append(
                RetrievedPassage(
                    passage_id=f"{m['source']}:{m['start_index']}",
                    source=m["source"],
                    title=m.get("title", ""),
                    section="",
                    start_line=int(m["start_line"]),
                    end_line=int(m["end_line"]),
                    text=doc.page_content,
                    score=round(1 - float(distance) / 2, 6),  # squared L2 of unit vectors -> cosine
                )
            )
        top = retrieved[:ANSWER_CHUNKS]
        citations = [
            Citation(n=i, passage_id=p.passage_id, source=p.source, title=p.title, section=p.section,
                     start_line=p.start_line, end_line=p.end_line, text=p.text)
            for i, p in enumerate(top, start=1)
        ]
        answer = "\n\n".join(f"{_readable_answer(p.text)} [{i}]" for i, p in enumerate(top, start=1))
        total = (time.perf_counter() - t0) * 1000
        return Answer(
            question=question,
            answer=answer,
            refused=False,
            citations=citations,
            retrieved=retrieved,
            timings_ms={"retrieve": round((t1 - t0) * 1000, 2), "total": round(total, 2)},
            standalone_question=question,
            refusal_reason=None,
            evidence=retrieved[0].score if retrieved else 0.0,
        )
