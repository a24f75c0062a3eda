"""Workshop mode for trainers: scenario question sets (YAML in knowledge_base/workshops/),
participant and facilitator passcodes, and who is who after login.

A workshop file::

    name: funding-across-levels           # what `policy-assistant serve --workshop NAME` takes
    title: Funding integration across levels of government
    description: One paragraph for the participants' login page and the chat header.
    audience: Who it is for (optional).
    duration: 90 minutes (optional)
    scenarios:
      - title: ...
        context: |             # the situation the participants are in (Markdown)
          ...
        questions:             # starter questions for the assistant, shown as one-click examples
          - ...
        discussion:            # optional prompts for the group, after the assistant has answered
          - ...

Passcodes are never in the YAML: participants' comes from ``--passcode`` (or
``POLICY_ASSISTANT_PASSCODE``), the facilitator's from ``--facilitator-passcode`` (or
``POLICY_ASSISTANT_FACILITATOR_PASSCODE``); without them ``serve`` generates random ones and
prints them on the trainer's console.

Login: the Gradio login page.  A participant types their name as the user name and the
workshop passcode as the password; the facilitator types ``facilitator`` and the facilitator
passcode.  Every browser session is its own conversation.
"""

from __future__ import annotations

import hmac
import re
import secrets
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from assistant.errors import InputError

FACILITATOR = "facilitator"
MAX_NAME_CHARS = 40
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}$")


class Scenario(BaseModel):
    title: str
    context: str = ""
    questions: list[str] = Field(min_length=1)
    discussion: list[str] = Field(default_factory=list)


class Workshop(BaseModel):
    name: str
    title: str
    description: str = ""
    audience: str = ""
    duration: str = ""
    scenarios: list[Scenario] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError("name must be lower-case letters, digits and hyphens, e.g. funding-across-levels")
        return v

    @property
    def questions(self) -> list[str]:
        return [q for s in self.scenarios for q in s.questions]


def workshop_files(directory: Path) -> list[Path]:
    return sorted(p for p in Path(directory).glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def load_workshop_file(path: Path) -> Workshop:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read the workshop file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: a workshop file holds one mapping (name, title, scenarios, ...)")
    if any(k in data for k in ("passcode", "facilitator_passcode")):
        raise InputError(f"{path}: passcodes do not belong in a workshop file; pass --passcode and --facilitator-passcode")
    try:
        return Workshop(**data)
    except ValidationError as exc:
        raise InputError(f"{path}: not a valid workshop file:\n{exc}") from exc


def list_workshops(directory: Path) -> list[Workshop]:
    return [load_workshop_file(p) for p in workshop_files(directory)]


def load_workshop(name: str, directory: Path) -> Workshop:
    """The workshop called `name` (its `name:` field or its file name without .yaml)."""
    files = workshop_files(directory)
    for p in files:
        if p.stem == name:
            return load_workshop_file(p)
    for p in files:
        try:
            w = load_workshop_file(p)
        except InputError:
            continue  # a broken file elsewhere does not hide the one asked for
        if w.name == name:
            return w
    known = ", ".join(p.stem for p in files) or f"none (no .yaml files in {directory})"
    raise InputError(f"unknown workshop {name!r}; available: {known}")


def new_passcode() -> str:
    return secrets.token_urlsafe(9)


def is_facilitator_name(username: str | None) -> bool:
    return (username or "").strip().casefold() == FACILITATOR


def clean_participant_name(username: str | None) -> str:
    name = " ".join((username or "").split())
    return name[:MAX_NAME_CHARS]


def _same(given: str | None, expected: str) -> bool:
    return hmac.compare_digest(str(given or "").encode("utf-8"), expected.encode("utf-8"))


def make_auth(passcode: str, facilitator_passcode: str | None = None):
    """The Gradio ``auth`` callable. Any non-empty name with the participants' passcode; with a
    facilitator passcode, the name 'facilitator' only with that one."""

    def auth(username: str, password: str) -> bool:
        name = clean_participant_name(username)
        if not name or len((username or "").strip()) > MAX_NAME_CHARS:
            return False
        if facilitator_passcode and is_facilitator_name(name):
            return _same(password, facilitator_passcode)
        return _same(password, passcode)

    return auth
