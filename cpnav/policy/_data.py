"""Loading of the policy definition files (TOML) with loud, specific failures.

Every definition file is validated by a pydantic model when it is loaded; a bad
file must stop start-up with a message that names the file and what is wrong,
never degrade into a silently wrong determination.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

RULES_DIR = Path(__file__).resolve().parent / "rules"

M = TypeVar("M", bound=BaseModel)


class PolicyDataError(Exception):
    """A shipped (or supplied) policy definition file is missing or invalid."""


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(f".{item}" if parts else item)
    return "".join(parts) or "(top level)"


def load_toml(path: Path, model: type[M]) -> M:
    """Parse ``path`` and validate it against ``model``.

    TOML syntax errors carry tomllib's line and column; schema errors carry
    the dotted field path (tomllib keeps no line numbers after parsing).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyDataError(f"{path}: cannot read policy file: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyDataError(f"{path}: invalid TOML: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_field_path(tuple(err['loc']))}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyDataError(f"{path}: {problems}") from exc
