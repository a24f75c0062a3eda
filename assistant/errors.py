"""Errors with messages meant for the user (the CLI prints them without a traceback)."""


class AssistantError(Exception):
    """Base class: the message says what went wrong and what to do."""

    exit_code = 1


class InputError(AssistantError):
    """The question or a command-line argument is not acceptable."""

    exit_code = 2


class IngestError(AssistantError):
    """A report could not be read or converted."""

    exit_code = 3


class IndexError_(AssistantError):
    """The index is missing, half-built or corrupted."""

    exit_code = 4


class BackendError(AssistantError):
    """An LLM backend failed or timed out."""

    exit_code = 5
