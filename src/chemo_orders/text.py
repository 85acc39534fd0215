"""Text a person wrote that reaches a page or a terminal.

An MRN containing U+202E (right-to-left override) printed as a different MRN on the PDF;
terminal escape sequences in a name reached the terminal. Identifiers and names therefore
refuse control, format (bidirectional overrides, zero-width characters), separator and
private-use characters outright; error messages escape what they quote (errors.excerpt).
"""

from __future__ import annotations

import unicodedata

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
