"""The interview engine's exceptions.

Definition errors are for authors (a bad YAML file: name the file and line so
the mistake is found in seconds); answer errors are for the person filling in
the interview (name the field in plain words, say how to fix it).
"""

from __future__ import annotations

from pathlib import Path


class InterviewDefinitionError(Exception):
    """A definition file is invalid. ``problems`` holds (line, message) pairs;
    ``line`` is the first problem's line (1-based; 0 when no line is known)."""

    def __init__(self, path: Path | str, problems: list[tuple[int, str]]) -> None:
        assert problems, "an InterviewDefinitionError needs at least one problem"
        self.path = Path(path)
        self.problems = problems
        self.line = problems[0][0]
        super().__init__("\n".join(f"{self.path}:{line}: {message}" for line, message in problems))


class ExpressionError(Exception):
    """An expression that does not parse or does not make sense.

    ``position`` is a 0-based offset into ``source``; the loader turns this into
    an InterviewDefinitionError with the file and line of the expression.
    """

    def __init__(self, message: str, source: str, position: int) -> None:
        self.message = message
        self.source = source
        self.position = position
        super().__init__(f"{message} (column {position + 1})")

    def pointer(self) -> str:
        """The expression with a caret under the problem, for error messages."""
        return f"    {self.source}\n    {' ' * self.position}^"


class AnswerError(ValueError):
    """An answer that cannot be accepted; ``message`` is shown to the user as is."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class InterviewNotFound(LookupError):
    """No shipped interview has this id."""
