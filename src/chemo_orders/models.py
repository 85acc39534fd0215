"""Shared pydantic building blocks: quantity fields and the loader's error translation.

Quantities are parsed once, at the edge, into pint objects; the rest of the package never
sees a unit string. Validation errors become one :class:`InputError` naming the field path
and the value, because a pharmacist needs "weight: missing unit (got '80')", not a
pydantic report.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Annotated, Any, TypeAlias, TypeVar, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from .errors import InputError, Problems
from .quantities import parse_quantity
from .units import Q, QuantityClass


class Frozen(BaseModel):
    """Immutable, strict about unknown keys (a typo must not silently drop a field).

    Each model's validator is built when it first validates (``defer_build``), not when its
    module is imported: a ``calc`` never pays for the models only other commands use (a
    prescription, a plan, a rounding policy). What is validated, and how, is unchanged.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _numbers_as_written(cls, data: Any) -> Any:
        """A number field takes a number as written: pydantic's lax mode read ``day: true`` as
        day 1 and the text ``2_4`` as 24 (the loader keeps YAML 1.1 forms as text, issue 19).
        True/false, and text that is not a plain decimal number, are refused naming the field;
        a true/false field takes only true or false."""
        if isinstance(data, dict):
            for name in _number_fields(cls):
                value = data.get(name)
                if isinstance(value, bool):
                    raise InputError(name, value, "expected a number, not true/false")
                if isinstance(value, str) and not _PLAIN_NUMBER.fullmatch(value):
                    raise InputError(name, value, "expected a number written with digits 0-9 and one decimal point")
            for name in _boolean_fields(cls):
                value = data.get(name)
                if value is not None and not isinstance(value, bool):  # lax mode read yes, on, y and 1 as true
                    raise InputError(name, value, "expected true or false")
        return data


def parser_for(dimension: str | None) -> BeforeValidator:
    """A pydantic validator parsing text into a quantity of one dimensionality (None: any)."""

    def check(value: object) -> object:
        if isinstance(value, QuantityClass):
            return value
        return parse_quantity(value, "value", dimension)

    return BeforeValidator(check)


Length: TypeAlias = Annotated[Q, parser_for("[length]")]
Mass: TypeAlias = Annotated[Q, parser_for("[mass]")]
Duration: TypeAlias = Annotated[Q, parser_for("[time]")]
AnyQuantity: TypeAlias = Annotated[Q, parser_for(None)]


_PLAIN_NUMBER = re.compile(r"\s*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*")


@cache
def _number_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` (by the key a file uses) that take only a number (or nothing)."""
    return tuple(
        field.alias or name
        for name, field in model.model_fields.items()
        if _kinds(field.annotation) & {int, float} and _kinds(field.annotation) <= {int, float, type(None)}
    )


@cache
def _boolean_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` (by the key a file uses) that take only true or false (or nothing)."""
    return tuple(
        field.alias or name
        for name, field in model.model_fields.items()
        if bool in _kinds(field.annotation) and _kinds(field.annotation) <= {bool, type(None)}
    )


def _kinds(annotation: Any) -> set[Any]:
    """The plain types a (possibly Annotated, Optional or union) annotation admits at its top."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return set().union(*(_kinds(arg) for arg in typing.get_args(annotation)))
    return {annotation}


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: Any, source: str) -> M:
    """Validate ``data`` as ``model``; the first problem becomes a one-line InputError."""
    if not isinstance(data, dict):
        raise InputError("(top level)", type(data).__name__, "expected a mapping of fields", source=source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise translate(exc, source) from None


def translate(exc: ValidationError, source: str) -> InputError:
    """The first pydantic error as an InputError with the full field path."""
    return translate_all(exc, source)[0]


def translate_all(exc: ValidationError, source: str) -> list[InputError]:
    """Every pydantic error (and every problem a model validator collected) as InputErrors."""
    found: list[InputError] = []
    errors = exc.errors()
    locations = [tuple(e["loc"]) for e in errors]
    for error in errors:
        here = tuple(error["loc"])
        if any(len(other) > len(here) and other[: len(here)] == here for other in locations):
            continue  # a consequence ("at least 1 item") of a problem reported inside it
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, Problems):
            found.extend(_translate(error, problem, source) for problem in cause.problems)
        else:
            found.append(_translate(error, cause, source))
    return found


def _translate(error: Any, cause: object, source: str) -> InputError:
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if isinstance(cause, InputError):
        # A model-level validator knows the field inside its model; the location says which model.
        if cause.field != "value" and not field.endswith(cause.field):
            head, _, last = field.rpartition(".")
            if cause.field.split(".")[0] == last:  # the validator already named this field
                field = f"{head}.{cause.field}" if head else cause.field
            else:
                field = cause.field if field == "(top level)" else f"{field}.{cause.field}"
        return InputError(field, cause.value, cause.problem, source=source)
    problem = {
        "extra_forbidden": "unknown field",
        "missing": "required field is missing",
    }.get(error["type"], error["msg"][0].lower() + error["msg"][1:])
    value = error.get("input", "") if error["type"] != "missing" else ""
    return InputError(field, value, problem, source=source)


def check_cited(sources: Mapping[str, object], cited: Iterable[tuple[str, Iterable[str]]], origin: str) -> None:
    """Every source key a data file cites is in its ``sources``: a citation that points nowhere
    is refused when the file is read, naming where (one check for every cited table)."""
    for where, keys in cited:
        for key in keys:
            if key not in sources:
                raise InputError(f"{where}.source", key, "no such key in sources", source=origin)
