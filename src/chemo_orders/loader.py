"""Reading a YAML file a person wrote, with every way it can hurt us bounded.

Measured on the earlier loader: a duplicated key silently kept the last value (a second
``weight:`` line won); ``2026-02-30`` raised inside PyYAML's date constructor (exit 1);
``/dev/zero`` as a patient file read forever; 100,000 nested brackets crashed the C parser;
a billion-laughs alias took ~55 s and gigabytes when the error path printed its ``repr``.
Here: regular files only, size read with a bound, nesting measured on the text before the
parser sees it, every value counted with aliases expanded, duplicate keys refused,
and dates left as text so that the model's own validator names the field of a bad date.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

MAX_BYTES = 1_000_000  # the largest regimen file is ~10 kB; a patient file ~1 kB
MAX_DEPTH = 40  # nesting levels (flow brackets or block indentation steps)
MAX_NODES = 50_000  # keys, values and items, every alias use counted

_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when built with it: ~8x faster


class _StrictLoader(_BASE):  # type: ignore[misc]
    """PyYAML's safe loader, refusing duplicate keys."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, str | int | float | bool) and key in seen:
                    line = key_node.start_mark.line + 1
                    raise _Duplicate(str(key), line)
                if isinstance(key, str | int | float | bool):
                    seen.add(key)
        return super().construct_mapping(node, deep=deep)


# Dates stay text: the models parse them, so "2026-02-30" is a field error, not a crash.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BASE.yaml_implicit_resolvers.items()
}


class _Duplicate(Exception):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(key)
        self.key = key
        self.line = line


_BLOCK_PREFIX = re.compile(r"^[ \t-]*")


def nesting_depth(text: str) -> int:
    """An upper bound on the YAML nesting of ``text``, found without parsing it.

    Flow brackets are counted wherever they are (brackets inside quoted text only make the
    bound larger, never smaller); block nesting is bounded by each line's indentation and
    its run of ``- `` markers.
    """
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}" and depth:
            depth -= 1
    for line in text.splitlines():
        prefix = _BLOCK_PREFIX.match(line)
        if prefix:
            deepest = max(deepest, len(prefix.group(0)) // 2)
    return deepest


def read_text(path: Path, what: str) -> str:
    """The file's text: a regular file, at most MAX_BYTES, UTF-8 (a byte-order mark allowed)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(what, str(path), "file not found") from None
    except OSError as exc:
        raise InputError(what, str(path), f"cannot read file ({exc.__class__.__name__})") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(what, str(path), "is a directory, expected a YAML file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(what, str(path), "not a regular file")
    if info.st_size > MAX_BYTES:
        raise InputError(what, str(path), f"too large ({info.st_size} bytes; at most {MAX_BYTES})")
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(what, str(path), f"cannot read file ({exc.__class__.__name__})") from None
    return decode(data, what, str(path))


def decode(data: bytes, what: str, where: str) -> str:
    """Bytes as text: at most MAX_BYTES, no NUL, UTF-8 (a byte-order mark allowed)."""
    if len(data) > MAX_BYTES:
        raise InputError(what, where, f"too large (more than {MAX_BYTES} bytes)")
    if b"\x00" in data:
        raise InputError(what, where, "contains NUL bytes: not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(what, where, "not UTF-8 text") from None


def parse_yaml(text: str, what: str, where: str) -> Any:
    """Parse YAML text with the bounds above; every problem is an InputError naming ``where``."""
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise InputError(what, where, f"nested too deeply ({depth} levels; at most {MAX_DEPTH})")
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except _Duplicate as duplicate:
        raise InputError(duplicate.key, where, f"key given twice (second at line {duplicate.line})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(what, where, f"malformed YAML{at}") from None
    except Exception as exc:  # PyYAML's constructors raise IndexError, KeyError, AttributeError … on
        # explicit tags with odd values (`weight: !!float` with nothing after it): all bad input.
        raise InputError(what, where, f"malformed YAML ({exc.__class__.__name__})") from None
    if _size(data) > MAX_NODES:
        raise InputError(what, where, f"too many values (more than {MAX_NODES}, aliases expanded)")
    return data


def _size(data: Any) -> int:
    """Values in ``data`` counting every alias use, stopping just past MAX_NODES.

    Aliases make a shared (even cyclic) graph that PyYAML builds cheaply; whoever walks it
    next (validation, an error message) pays for the expansion, so the walk is bounded here.
    """
    count, stack = 0, [data]
    while stack and count <= MAX_NODES:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def read_yaml(path: Path, what: str) -> Any:
    """Read and parse a YAML file with every bound applied."""
    return parse_yaml(read_text(path, what), what, str(path))
