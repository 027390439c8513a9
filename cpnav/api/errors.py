from __future__ import annotations

from ninja import Schema


class FieldError(Schema):
    path: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[FieldError] = []
