"""The project's own exceptions.

Every problem a user can cause (a missing file, a unit of the wrong kind, an implausible
weight) is an :class:`InputError`: the command line prints its one-line message and exits 2.
Anything else that escapes is a bug, reported as an internal error (exit 1). Both derive
from ``ValueError`` so library callers can catch them the way they catch other bad values.
"""

from __future__ import annotations


class ChemoOrdersError(ValueError):
    """Base class of every error chemo-orders raises on purpose."""


class InputError(ChemoOrdersError):
    """Bad input: names where (file, field) and what (value), so the user can fix it."""

    def __init__(self, field: str, value: object, problem: str, *, source: str = "") -> None:
        self.field = field
        self.value = value
        self.problem = problem
        self.source = source
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = f"{self.source}: " if self.source else ""
        shown = _one_line(repr(self.value) if not isinstance(self.value, str) else self.value)
        return f"{where}{_one_line(self.field)}: {self.problem} (got {shown!r})"

    def located(self, source: str) -> InputError:
        """The same error, said of a file (the loader knows the file, the parser does not)."""
        return InputError(self.field, self.value, self.problem, source=source)


def _one_line(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
