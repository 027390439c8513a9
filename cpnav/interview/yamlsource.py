"""YAML that remembers where things are, and schema errors that say where.

PyYAML drops line numbers once a document is built; this loader keeps, for
every mapping, its own line and the line of each key, so that any problem found
later (by pydantic, or by the expression compiler) can be reported as
``file:line`` pointing at the question an author has to fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final, get_args

import yaml
from pydantic import BaseModel
from pydantic_core import ErrorDetails

from cpnav.interview.model import InterviewDefinition

Loc = tuple[int | str, ...]


class _Located(dict[Any, Any]):
    """A YAML mapping that remembers its line and the line of each key."""

    line: int
    key_lines: dict[Any, int]


class LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Iterator[_Located]:
    data = _Located()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        try:
            duplicate = key in data
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain value", key_node.start_mark
            ) from None
        if duplicate:
            # PyYAML keeps the last of two equal keys without a word; two
            # "condition:" lines in one question is a mistake worth stopping for.
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        data[key] = loader.construct_object(value_node)
        data.key_lines[key] = key_node.start_mark.line + 1


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def line_of(raw: object, loc: Sequence[int | str]) -> int:
    """The line of the deepest part of ``loc`` that exists in the YAML."""
    line = raw.line if isinstance(raw, _Located) else 0
    node: object = raw
    for part in loc:
        if isinstance(node, _Located) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            if isinstance(node, _Located):
                line = node.line
        else:
            break
    return line


def where(raw: object, loc: Sequence[int | str]) -> str:
    """A readable name for a location: "question 'dob'.choices[1]" rather than
    "sections[2].questions[4].choices[1]"."""
    label = ""
    node: object = raw
    for i, part in enumerate(loc):
        node = _child(node, part)
        ident = node.get("id") if isinstance(node, dict) else None
        kind = _KINDS.get(str(loc[i - 1])) if i and isinstance(part, int) else None
        if kind and isinstance(ident, str):
            label = f"{kind} '{ident}'"
        elif isinstance(part, int):
            label += f"[{part}]"
        elif label.endswith("'"):
            label = f"{label}: {part}"
        else:
            label = f"{label}.{part}" if label else part
    return label or "the file"


_KINDS: Final = {"sections": "section", "questions": "question", "fields": "field"}


def _child(node: object, part: int | str) -> object:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


# ---- schema errors ---------------------------------------------------------------


def _model_at(loc: Loc) -> type[BaseModel] | None:
    model: type[BaseModel] | None = InterviewDefinition
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        model = inner_model(field.annotation)
    return model


def inner_model(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = inner_model(arg)
        if found is not None:
            return found
    return None


def schema_problems(raw: object, errors: list[ErrorDetails]) -> list[tuple[int, str]]:
    """(line, message) for each error, without the echoes: pydantic also
    reports a list as too short when its only items were invalid."""
    locs = [tuple(err["loc"]) for err in errors]
    kept = [
        err
        for err, loc in zip(errors, locs, strict=True)
        if not (
            err["type"] == "too_short"
            and any(len(other) > len(loc) and other[: len(loc)] == loc for other in locs)
        )
    ]
    return [schema_problem(raw, err) for err in kept]


def schema_problem(raw: object, err: ErrorDetails) -> tuple[int, str]:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    if kind in ("extra_forbidden", "missing"):
        place = where(raw, loc[:-1])
        if kind == "missing":
            message = f"missing required key '{loc[-1]}'"
        else:
            model = _model_at(loc[:-1])
            allowed = f"; allowed here: {', '.join(model.model_fields)}" if model else ""
            message = f"unknown key '{loc[-1]}'{allowed}"
        return line_of(raw, loc), f"{place}: {message}"
    if kind == "string_type" and isinstance(err.get("input"), bool):
        message = (
            "expected text; put it in quotes "
            "(YAML reads yes, no, on, off, true and false as true/false)"
        )
    elif kind == "string_type" and isinstance(err.get("input"), (list, dict)):
        message = (
            "expected text; put it in quotes (YAML reads [...] and {...} as lists and mappings)"
        )
    elif kind == "value_error":
        message = str((err.get("ctx") or {}).get("error", err["msg"]))
    elif kind == "string_pattern_mismatch":
        message = "use lower-case letters, digits and _ only, starting with a letter"
    else:
        message = err["msg"]
    return line_of(raw, loc), f"{where(raw, loc)}: {message}"
