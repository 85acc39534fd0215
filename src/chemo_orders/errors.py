"""The project's own exceptions.

Every problem a user can cause (a missing file, a unit of the wrong kind, an implausible
weight) is an :class:`InputError`: the command line prints its one-line message and exits 2.
Anything else that escapes is a bug, reported as an internal error (exit 1). Both derive
from ``ValueError`` so library callers can catch them the way they catch other bad values.
"""

from __future__ import annotations

import reprlib
import unicodedata


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
        return f"{where}{excerpt(self.field)}: {self.problem} (got '{excerpt(self.value)}')"

    def located(self, source: str) -> InputError:
        """The same error, said of a file (the loader knows the file, the parser does not)."""
        return InputError(self.field, self.value, self.problem, source=source)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlevel = 2


def excerpt(value: object, limit: int = 80) -> str:
    """A bounded, printable one-line excerpt of any value, for a message.

    Never ``repr`` of an unbounded structure: a billion-laughs alias expands to gigabytes
    when printed. Control and format characters are shown as escapes so that a value cannot
    rewrite the terminal or the page it is reported on.
    """
    text = value if isinstance(value, str) else _REPR.repr(value)
    text = text if len(text) <= 4 * limit else text[: 4 * limit]
    flat = " ".join(text.split())
    flat = "".join(c if unicodedata.category(c)[0] != "C" else f"\\u{ord(c):04x}" for c in flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
