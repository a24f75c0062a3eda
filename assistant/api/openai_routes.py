"""OpenAI-compatible chat completions: ``POST /v1/chat/completions`` (streamed as server-sent
events, or whole) and ``GET /v1/models``.

- The last message is the question; the conversation's earlier **user** messages are its history
  (the most recent ``Limits.max_history_turns``; earlier turns the service would refuse — empty or
  oversized — are left out, as the web chat leaves them out of its history). System and assistant
  messages are read but change nothing: the answer comes from the reports.
- ``content`` is the Markdown answer with its ``[n]`` markers, a notice if any, then a compact
  **Sources** list (``chat_content``), so any client shows usable citations.
- The structured citations travel in the extra field ``policy_assistant`` (``ChatExtra``) of
  ``choices[0].message`` (whole) or of ``choices[0].delta`` in the final chunk (streamed, the one
  whose ``finish_reason`` is ``stop``): ``citations`` (exactly the Answer JSON's), ``refused``,
  ``refusal_reason``, ``notice``, ``filters``, ``standalone_question``, ``backend``.
- Filters are extra body fields: ``reports``, ``levels``, ``themes``, ``section_kinds``.
- Models: ``policy-assistant`` (the configured backend), the configured backend's own name (and
  for an LLM backend its model name), and ``extractive`` (quotes, no LLM). Others: 404, naming them.
- Errors have OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``: 400 for a bad
  question (the CLI's messages), 404 for an unknown model, 401 without the passcode.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ..backends import ExtractiveBackend
from ..errors import AssistantError, InputError
from ..guard import clean_question
from ..models import Answer
from .access import Limits
from .operations import BadArgument, Operations, chat_answer, chat_content
from .schemas import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    ChatExtra,
    ChatMessageIn,
    ChatMessageOut,
    ModelCard,
    ModelList,
    OpenAIError,
    Usage,
)

log = logging.getLogger(__name__)

MODEL_ID = "policy-assistant"
EXTRA_FIELD = "policy_assistant"
_STARTED = int(time.time())
_ERRORS = {400: {"model": OpenAIError}, 401: {"model": OpenAIError}, 404: {"model": OpenAIError}}


_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def openai_error(status: int, message: str, kind: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}}, status_code=status)


def _text(message: ChatMessageIn) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return "\n".join(p.text or "" for p in message.content if p.type in ("text", "input_text"))


def conversation(messages: list[ChatMessageIn], max_chars: int, max_turns: int) -> tuple[str, list[str]]:
    """(the question, the history): the last message must be the user's; the earlier user
    messages that the service would accept are the history, oldest first."""
    last = messages[-1]
    if last.role != "user":
        raise InputError(f"the last message must be the user's question (role 'user'), not {last.role!r}")
    history = []
    for m in messages[:-1]:
        if m.role != "user":
            continue
        try:
            history.append(clean_question(_text(m), max_chars))
        except InputError:
            continue  # refused when it was asked: not part of the conversation's history
    return _text(last), history[-max_turns:] if max_turns else []


def extra(answer: Answer) -> ChatExtra:
    return ChatExtra(
        citations=answer.citations,
        refused=answer.refused,
        refusal_reason=answer.refusal_reason,
        notice=answer.notice,
        filters=answer.filters,
        standalone_question=answer.standalone_question,
        backend=answer.backend,
    )


def _words(text: str) -> int:
    return len(text.split())


class OpenAIDoor:
    def __init__(self, ops: Operations, limits: Limits):
        self.ops = ops
        self.limits = limits
        self._extractive = None

    # ------------------------------------------------------------------ models
    def model_ids(self) -> list[str]:
        s = self.ops.settings
        ids = [MODEL_ID, s.backend]
        if s.backend in ("openai", "ollama") and getattr(s, "llm_model", None):
            ids.append(str(s.llm_model))
        ids.append("extractive")
        return list(dict.fromkeys(ids))

    def operations_for(self, model: str) -> Operations | None:
        if model not in self.model_ids():
            return None
        if model == "extractive" and not isinstance(self.ops.assistant.backend, ExtractiveBackend):
            if self._extractive is None:
                self._extractive = Operations(self.ops.assistant.with_backend(backend="extractive"), self.ops._store)
            return self._extractive
        return self.ops

    def router(self) -> APIRouter:
        r = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])

        @r.get("/models", response_model=ModelList, summary="The models this server answers as", responses=_ERRORS)
        def list_models() -> ModelList:
            return ModelList(data=[ModelCard(id=m, created=_STARTED) for m in self.model_ids()])

        @r.get("/models/{model}", response_model=ModelCard, summary="One model", responses=_ERRORS)
        def get_model(model: str):
            if model not in self.model_ids():
                return self._unknown_model(model)
            return ModelCard(id=model, created=_STARTED)

        @r.post(
            "/chat/completions",
            response_model=ChatCompletion,
            summary="Answer the last user message from the reports, with citations",
            description=(
                "OpenAI's chat-completions API. `stream: true` sends server-sent events (`chat.completion.chunk` objects, "
                "then `data: [DONE]`); the final chunk (`finish_reason: stop`) carries the structured citations in "
                "`choices[0].delta.policy_assistant`, a whole response in `choices[0].message.policy_assistant` "
                "(ChatExtra). `content` is the Markdown answer with [n] markers and a Sources list. Filters: extra body "
                "fields `reports`, `levels`, `themes`, `section_kinds`."
            ),
            responses={**_ERRORS, 200: {"content": {"text/event-stream": {}}}},
        )
        async def chat_completions(body: ChatCompletionRequest, request: Request):
            return await self.complete(body)

        return r

    def _unknown_model(self, model: str) -> JSONResponse:
        return openai_error(404, f"the model {model!r} does not exist here; use one of: {', '.join(self.model_ids())}",
                            param="model", code="model_not_found")

    # ------------------------------------------------------------------ completions
    async def complete(self, body: ChatCompletionRequest):
        ops = self.operations_for(body.model)
        if ops is None:
            return self._unknown_model(body.model)
        try:
            question, history = conversation(body.messages, self.ops.settings.max_question_chars, self.limits.max_history_turns)
            filters = ops.filters(body.reports, body.levels, body.themes, body.section_kinds)
        except BadArgument as exc:
            return openai_error(400, str(exc), code="invalid_filter")
        except InputError as exc:
            return openai_error(400, str(exc), param="messages", code="invalid_question")
        prompt_words = sum(_words(_text(m)) for m in body.messages)
        cid = "chatcmpl-" + uuid.uuid4().hex
        created = int(time.time())
        if not body.stream:
            try:
                answer = await self.limits.run(ops.ask, question, history, filters)
            except InputError as exc:
                return openai_error(400, str(exc), param="messages", code="invalid_question")
            except AssistantError as exc:
                return openai_error(500, str(exc), kind="server_error")
            content = chat_content(answer)
            completion = ChatCompletion(
                id=cid,
                created=created,
                model=body.model,
                choices=[ChatChoice(message=ChatMessageOut(content=content, policy_assistant=extra(answer)))],
                usage=Usage(prompt_tokens=prompt_words, completion_tokens=_words(content),
                            total_tokens=prompt_words + _words(content)),
            )
            return JSONResponse(completion.model_dump(mode="json"))

        # streamed: the answer is written in one worker thread (one answer slot for the whole answer) whose
        # items reach the event loop through a queue; the first item is awaited before the response starts, so
        # bad input is a plain 400
        items, producer = self._produce(ops, question, history, filters)
        first = await items.get()
        if isinstance(first, _Failure):
            exc = first.exc
            if isinstance(exc, InputError):
                return openai_error(400, str(exc), param="messages", code="invalid_question")
            if isinstance(exc, AssistantError):
                return openai_error(500, str(exc), kind="server_error")
            log.error("answering failed", exc_info=exc)
            return openai_error(500, "something went wrong while answering; please try again", kind="server_error")
        live = isinstance(ops.assistant.backend, ExtractiveBackend)  # an LLM's draft may be cut by the citation check
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            self._events(items, producer, first, live, cid, created, body.model, prompt_words, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    def _produce(self, ops: Operations, question: str, history: list[str], filters):
        """Run ``ops.stream`` to its end in one worker thread (within the answer slots); its items, then
        ``_DONE`` (or a ``_Failure``), arrive in the returned queue."""
        loop = asyncio.get_running_loop()
        items: asyncio.Queue = asyncio.Queue()

        def put(item) -> None:
            loop.call_soon_threadsafe(items.put_nowait, item)

        def produce() -> None:
            try:
                for item in ops.stream(question, history, filters):
                    put(item)
            except BaseException as exc:  # noqa: BLE001 - handed to the event loop, which answers with it
                put(_Failure(exc))
            finally:
                put(_DONE)

        return items, asyncio.ensure_future(self.limits.run(produce))

    async def _events(self, items: asyncio.Queue, producer, first, live: bool, cid: str, created: int, model: str,
                      prompt_words: int, include_usage: bool):
        def chunk(delta: dict, finish: str | None = None, **top) -> str:
            obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **top}
            return "data: " + json.dumps(obj, ensure_ascii=False) + "\n\n"

        yield chunk({"role": "assistant", "content": ""})
        sent = ""
        answer: Answer | None = None
        batch = [first]
        while True:
            text, done = "", False
            for item in batch:  # what is ready goes out as one chunk: fewer events when the server is busy
                if isinstance(item, _Failure):  # after the start: say so in the content, and stop
                    if isinstance(item.exc, AssistantError):
                        text += f"\n\n⚠️ {item.exc}"
                    else:
                        log.error("answering failed", exc_info=item.exc)
                        text += "\n\n⚠️ Something went wrong while answering; please try again."
                    yield chunk({"content": text}, "stop")
                    yield "data: [DONE]\n\n"
                    return
                if item is _DONE:
                    done = True
                elif isinstance(item, Answer):
                    answer = item
                elif item and live:
                    text += chat_answer(item)  # a whole line of the answer
            if text:
                sent += text
                yield chunk({"content": text})
            if done:
                break
            batch = [await items.get()]
            while not items.empty():
                batch.append(items.get_nowait())
        await producer
        if answer is None:
            yield chunk({"content": "\n\n⚠️ No answer came back; please try again."}, "stop")
            yield "data: [DONE]\n\n"
            return
        whole = chat_content(answer)
        if whole.startswith(sent):
            rest = whole[len(sent):]
        else:  # cannot happen with the extractive backend; an LLM's text is never streamed live
            rest = "\n\n---\n\n" + whole
        if rest:
            yield chunk({"content": rest})
        yield chunk({EXTRA_FIELD: extra(answer).model_dump(mode="json")}, "stop")
        if include_usage:
            words = _words(sent + rest)
            yield ("data: " + json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                                          "choices": [], "usage": {"prompt_tokens": prompt_words, "completion_tokens": words,
                                                                   "total_tokens": prompt_words + words}}) + "\n\n")
        yield "data: [DONE]\n\n"
