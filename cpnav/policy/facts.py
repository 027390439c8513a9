"""The facts a user supplies about a case: the input half of the public contract.

Every field is optional and ``None`` means *unknown*; an empty ``means`` or
``purpose`` list means *looked for and none found*, which is different. The
models double as django-ninja request schemas, so they stay plain pydantic
BaseModels that reject unknown keys.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Annotated, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

AgencyLevel = Literal["federal", "state", "local", "tribal", "territorial"]
Citizenship = Literal["noncitizen", "us_citizen", "lawful_permanent_resident", "unknown"]
Means = Literal["force", "fraud", "coercion"]
Purpose = Literal["involuntary_servitude", "peonage", "debt_bondage", "slavery"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: object) -> object:
    # pydantic's lax date parsing also takes Unix timestamps and "20200101";
    # the contract promises YYYY-MM-DD only, so anything else is refused here.
    if isinstance(value, datetime):
        raise PydanticCustomError("date_format", "expected a date as YYYY-MM-DD, not a date-time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "date_value", "not a real calendar date: {value}", {"value": value}
            ) from None
    raise PydanticCustomError("date_format", "expected a date as YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]

T = TypeVar("T")


def _no_duplicates(items: list[T]) -> list[T]:
    seen: set[object] = set()
    for index, item in enumerate(items):
        if item in seen:
            # Raised as a ValidationError so pydantic reports it at the
            # element's own path ($.exploitation.means[1]), not the list's.
            raise ValidationError.from_exception_data(
                "list",
                [
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "duplicate", "duplicate value {value!r}", {"value": item}
                        ),
                        loc=(index,),
                        input=item,
                    )
                ],
            )
        seen.add(item)
    return items


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Requester(_Input):
    agency_level: AgencyLevel | None = None
    federal_partner_engaged: StrictBool | None = None


class Person(_Input):
    citizenship: Citizenship | None = None
    date_of_birth: IsoDate | None = None
    age_estimate: Annotated[StrictInt, Field(ge=0, le=120)] | None = None


class Exploitation(_Input):
    commercial_sex_act: StrictBool | None = None
    labor_or_services: StrictBool | None = None
    means: Annotated[list[Means], AfterValidator(_no_duplicates)] | None = Field(
        default=None, description="[] = none found; null = not yet known."
    )
    purpose: Annotated[list[Purpose], AfterValidator(_no_duplicates)] | None = Field(
        default=None, description="[] = none found; null = not yet known."
    )
    under_18_at_time: StrictBool | None = None


class Witness(_Input):
    potential_witness: StrictBool | None = None
    civil_action_1595_filed: StrictBool | None = None


class Facts(_Input):
    """What is known about one person and case. There is deliberately no
    cooperation field: CP is never conditioned on cooperation."""

    as_of: IsoDate | None = Field(
        default=None, description="Date the determination is made for; default today."
    )
    requester: Requester | None = None
    person: Person | None = None
    exploitation: Exploitation | None = None
    witness: Witness | None = None

    @model_validator(mode="after")
    def _birth_not_after_as_of(self) -> Facts:
        dob = self.person.date_of_birth if self.person else None
        if dob is not None:
            check_birth_date(dob, self.as_of or date.today())
        return self


def check_birth_date(dob: date, as_of: date) -> None:
    """Raise a pydantic ValidationError located at $.person.date_of_birth."""
    if dob > as_of:
        raise ValidationError.from_exception_data(
            "Facts",
            [
                InitErrorDetails(
                    type=PydanticCustomError(
                        "date_of_birth_after_as_of",
                        "date of birth {dob} is after as_of {as_of}",
                        {"dob": dob.isoformat(), "as_of": as_of.isoformat()},
                    ),
                    loc=("person", "date_of_birth"),
                    input=dob.isoformat(),
                )
            ],
        )


class FactsError(ValueError):
    """Facts that do not fit the contract. ``errors`` holds (json_path, message)
    for every problem found, e.g. ("$.person.nickname", "unknown field")."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors))


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Friendlier words for the errors a person filling in a form will actually hit.
_MESSAGES = {
    "extra_forbidden": "unknown field",
    "bool_type": "expected true, false or null",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
    "dict_type": "expected an object",
    "list_type": "expected a list",
}


def json_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as a JSON path: ("means", 1) -> $.means[1]."""
    out = ["$"]
    for part in loc:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.match(part):
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


def errors_from(exc: ValidationError) -> list[tuple[str, str]]:
    """(json_path, message) for each error in a pydantic ValidationError."""
    result: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        message = _MESSAGES.get(err["type"], err["msg"])
        result.append((json_path(tuple(err["loc"])), message))
    return result


def parse_facts(data: object) -> Facts:
    """Validate decoded JSON (or JSON text) into Facts.

    Raises FactsError listing every bad field by JSON path, including unknown
    keys, so a form or CLI can show all problems at once.
    """
    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise FactsError(
                [
                    (
                        "$",
                        f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                    )
                ]
            ) from exc
        except UnicodeDecodeError as exc:
            raise FactsError([("$", f"not UTF-8 text (byte {exc.start})")]) from exc
    if not isinstance(data, dict):
        raise FactsError([("$", "expected a JSON object")])
    try:
        return Facts.model_validate(data)
    except ValidationError as exc:
        raise FactsError(errors_from(exc)) from exc
