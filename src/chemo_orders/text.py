"""Text a person wrote that reaches a page or a terminal.

An MRN containing U+202E (right-to-left override) printed as a different MRN on the PDF;
terminal escape sequences in a name reached the terminal. Identifiers and names therefore
refuse control, format (bidirectional overrides, zero-width characters), separator and
private-use characters outright; error messages escape what they quote (errors.excerpt).
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from collections.abc import Callable

from .errors import InputError

# Unicode general categories refused in identifiers and names: Cc control, Cf format (bidi
# overrides and isolates, zero-width joiners), Co private use, Cs surrogates, Cn unassigned,
# Zl/Zp line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


def clean_text(value: object, field: str, max_length: int) -> str:
    """A one-line, printable text of at most ``max_length`` characters, or an InputError."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InputError(field, value, "expected text")
    text = value.strip()
    if not text:
        raise InputError(field, value, "must not be empty")
    if len(text) > max_length:
        raise InputError(field, text, f"too long ({len(text)} characters; at most {max_length})")
    for position, char in enumerate(text):
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise InputError(
                field, text, f"character U+{ord(char):04X} at position {position + 1} is not allowed (control or bidi)"
            )
    return text


def clean_identifier(value: object, field: str, max_length: int) -> str:
    """An identifier (an MRN): clean text that is not ``.`` or ``..``.

    The MRN is a path segment of the workbench's addresses (``/patients/MRN``): an MRN of
    ``..`` named the parent of the patient list, so a link to that patient led elsewhere.
    """
    text = clean_text(value, field, max_length)
    if not text.strip("."):
        raise InputError(field, text, "an identifier cannot be only dots")
    return text


MAX_CYCLE = 1000  # the largest cycle number an option takes; each regimen then checks its own
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")  # ASCII only: int() also reads '٣' (Arabic-Indic 3) as 3


def whole_number(text: str, field: str, lowest: int, highest: int) -> int:
    """A whole number a person typed (an option, a cell), in ASCII digits from ``lowest`` to
    ``highest``; anything else is an InputError naming ``field``."""
    digits = text.strip()
    if not _WHOLE_NUMBER.fullmatch(digits) or not lowest <= int(digits) <= highest:
        raise InputError(field, text, f"expected a whole number from {lowest} to {highest} (digits 0-9)")
    return int(digits)


_DECIMAL = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?|\.[0-9]{1,9}")


def decimal_number(text: str, field: str) -> float:
    """A decimal number a person typed, ASCII digits and one point only: ``float()`` also
    reads '٥', '1_0', 'nan' and 'inf'."""
    digits = text.strip()
    if not _DECIMAL.fullmatch(digits):
        raise InputError(field, text, "expected a number such as 5 or 2.5 (digits 0-9)")
    return float(digits)


def option_number(option: str, lowest: int, highest: int) -> Callable[[str], int]:
    """An argparse ``type`` for a whole-number option: ASCII digits within bounds (``int()``
    read ``--cycle ٣`` as cycle 3); argparse then names the option in its one-line error."""

    def parse(text: str) -> int:
        try:
            return whole_number(text, option, lowest, highest)
        except InputError as error:
            raise argparse.ArgumentTypeError(error.problem) from None

    return parse
