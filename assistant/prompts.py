"""Prompt and message templates, kept as files in prompts/ with a version line on top."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .settings import get_settings


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    template: str

    def render(self, **values: str) -> str:
        out = self.template
        for key, value in values.items():
            out = out.replace("{" + key + "}", value)
        return out.strip()


@lru_cache(maxsize=32)
def load_prompt(name: str) -> Prompt:
    path = get_settings().prompts_dir / f"{name}.md"
    raw = path.read_text(encoding="utf-8")
    head, sep, body = raw.partition("\n---\n")
    if not sep or not head.startswith("version:"):
        raise ValueError(f"{path}: a prompt file starts with 'version: N' and a '---' line")
    return Prompt(name, head.split(":", 1)[1].strip(), body)
