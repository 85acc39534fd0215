"""Reading a YAML or JSON file a person wrote, with every way it can hurt us bounded.

Measured on the earlier loader: a duplicated key silently kept the last value (a second
``weight:`` line won); ``2026-02-30`` raised inside PyYAML's date constructor (exit 1);
``/dev/zero`` as a patient file read forever; 100,000 nested brackets crashed the C parser;
a billion-laughs alias took ~55 s and gigabytes when the error path printed its ``repr``.
Here: regular files only, size read with a bound, nesting measured on the text before the
parser sees it, every value counted with aliases expanded, duplicate keys refused,
and dates left as text so that the model's own validator names the field of a bad date.
Issue 19: numbers and true/false read the YAML 1.2 way (``age: 070`` was 56), explicit keys
counted in the nesting bound (30,000 ``? `` segfaulted libyaml), and ``.json`` patient files
through the same bounds (a FIFO hung, ``/dev/zero`` filled memory, a duplicate key won).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import marshal
import math
import os
import re
import stat
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

MAX_BYTES = 1_000_000  # the largest regimen file is ~10 kB; a patient file ~1 kB
MAX_DEPTH = 40  # nesting levels (flow brackets or block indentation steps)
MAX_NODES = 50_000  # keys, values and items, every alias use counted

_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when built with it: ~8x faster

# The YAML 1.2 JSON-schema forms (the core schema without hex, octal, leading zeros or
# underscores): the only plain scalars read as something other than text. PyYAML reads YAML
# 1.1, where ``070`` is 56, ``1:20`` is 80, ``0x37`` is 55, ``2_4`` is 24 and ``yes``/``on``
# are true; each of those changed a patient's value without a word (issue 19). Here they are
# text, which a number or true/false field refuses naming itself, and a text field (an MRN
# ``000123``) keeps as written.
_INT = r"[-+]?(?:0|[1-9][0-9]*)"
_FRACTION_OR_EXPONENT = r"(?:\.[0-9]*(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)"
_CORE = {
    "tag:yaml.org,2002:bool": re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    "tag:yaml.org,2002:int": re.compile(rf"^{_INT}$"),
    "tag:yaml.org,2002:float": re.compile(
        rf"^(?:{_INT}{_FRACTION_OR_EXPONENT}|[-+]?\.[0-9]+(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    "tag:yaml.org,2002:null": re.compile(r"^(?:~|null|Null|NULL|)$"),
}
_FIRST_CHARACTERS = {
    "tag:yaml.org,2002:bool": "tTfF",
    "tag:yaml.org,2002:int": "-+0123456789",
    "tag:yaml.org,2002:float": "-+0123456789.",
    "tag:yaml.org,2002:null": "~nN",
}


def _core_resolvers() -> dict[str | None, list[tuple[str, re.Pattern[str]]]]:
    """PyYAML's table of implicit resolvers, holding only the forms above (int before float:
    a resolver list is tried in order). No timestamps: dates stay text so that the models
    parse them, and "2026-02-30" is a field error, not a crash. No merge keys (``<<``): YAML
    1.2 has none."""
    table: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {
        "": [("tag:yaml.org,2002:null", _CORE["tag:yaml.org,2002:null"])]
    }
    for tag, firsts in _FIRST_CHARACTERS.items():
        for first in firsts:
            table.setdefault(first, []).append((tag, _CORE[tag]))
    return table


class _StrictLoader(_BASE):  # type: ignore[misc]
    """PyYAML's safe loader reading YAML 1.2 scalars, refusing duplicate keys and 1.1 forms
    given an explicit tag (``age: !!int 070``)."""

    yaml_implicit_resolvers = _core_resolvers()

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                if key is None or isinstance(key, str | int | float | bool):
                    if key in seen:
                        raise _Refused(str(key), f"key given twice (second at line {key_node.start_mark.line + 1})")
                    seen.add(key)
                _check_tagged(value_node, str(key))
        return super().construct_mapping(node, deep=deep)

    def construct_scalar(self, node: Any) -> Any:
        _check_tagged(node, "")
        return super().construct_scalar(node)


def _check_tagged(node: Any, field: str) -> None:
    """A scalar tagged ``!!int``, ``!!float``, ``!!bool`` or ``!!null`` must be in its 1.2 form
    (PyYAML's constructors would read ``!!int 070`` as 56 and ``!!bool yes`` as true)."""
    if isinstance(node, yaml.ScalarNode) and node.tag in _CORE and not _CORE[node.tag].match(node.value):
        line = node.start_mark.line + 1
        name = node.tag.rsplit(":", 1)[-1]
        raise _Refused(field, f"not a YAML 1.2 {name} (line {line}): {node.value!r}")


class _Refused(Exception):
    """A problem the loader names by key (``field``, empty when not under a key)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


# A line's run of indentation and block indicators: ``- `` (sequence entry), ``? `` (explicit
# key) and ``: `` (its value) each open one level without a bracket; 30,000 ``? `` on one line
# crashed libyaml (issue 19).
_BLOCK_PREFIX = re.compile(r"^[ \t?:-]*")


def nesting_depth(text: str) -> int:
    """An upper bound on the YAML nesting of ``text``, found without parsing it.

    Flow brackets are counted wherever they are (brackets inside quoted text only make the
    bound larger, never smaller); block nesting is bounded by each line's indentation and
    its run of ``- ``, ``? `` and ``: `` indicators.
    """
    deepest = _bracket_depth(text)
    for line in text.splitlines():
        prefix = _BLOCK_PREFIX.match(line)
        if prefix:
            deepest = max(deepest, len(prefix.group(0)) // 2)
    return deepest


_BRACKETS = re.compile(r"[\[\]{}]")


def _bracket_depth(text: str) -> int:
    """The deepest nesting of flow brackets; only the brackets are walked (a 67 kB table has a
    few hundred), not every character."""
    depth = deepest = 0
    for char in _BRACKETS.findall(text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}" and depth:
            depth -= 1
    return deepest


def read_text(path: Path, what: str) -> str:
    """The file's text: a regular file, at most MAX_BYTES, UTF-8 (a byte-order mark allowed).

    The file is opened without blocking and checked again through its descriptor, so a path
    swapped for a FIFO or a device between the check and the open is refused, not read.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(what, str(path), "file not found") from None
    except OSError as exc:
        raise InputError(what, str(path), f"cannot read file ({exc.__class__.__name__})") from None
    _check_regular(info, what, path)
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputError(what, str(path), f"cannot read file ({exc.__class__.__name__})") from None
    try:
        with os.fdopen(handle, "rb") as stream:
            _check_regular(os.fstat(stream.fileno()), what, path)
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(what, str(path), f"cannot read file ({exc.__class__.__name__})") from None
    return decode(data, what, str(path))


def _check_regular(info: os.stat_result, what: str, path: Path) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise InputError(what, str(path), "is a directory, expected a file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(what, str(path), "not a regular file")
    if info.st_size > MAX_BYTES:
        raise InputError(what, str(path), f"too large ({info.st_size} bytes; at most {MAX_BYTES})")


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
    except _Refused as refused:
        raise InputError(refused.field or what, where, refused.problem) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(what, where, f"malformed YAML{at}") from None
    except Exception as exc:  # PyYAML's constructors raise IndexError, KeyError, AttributeError … on
        # explicit tags with odd values (`weight: !!float` with nothing after it): all bad input.
        raise InputError(what, where, f"malformed YAML ({exc.__class__.__name__})") from None
    return _bounded(data, what, where)


def parse_json(text: str, what: str, where: str) -> Any:
    """Parse JSON text with the same bounds as YAML: nesting, size, duplicate keys refused,
    and only finite numbers (Python's reader takes ``NaN``, ``Infinity`` and ``1e999``)."""
    depth = _bracket_depth(text)
    if depth > MAX_DEPTH:
        raise InputError(what, where, f"nested too deeply ({depth} levels; at most {MAX_DEPTH})")
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite)
    except _Refused as refused:
        raise InputError(refused.field or what, where, refused.problem) from None
    except json.JSONDecodeError as exc:
        raise InputError(what, where, f"malformed JSON at line {exc.lineno}") from None
    except ValueError:  # an integer of more digits than Python converts
        raise InputError(what, where, "malformed JSON (a number too long)") from None
    return _bounded(data, what, where)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Refused(key, "key given twice")
        found[key] = value
    return found


def _no_constant(name: str) -> float:
    raise _Refused("", f"{name} is not a number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("", f"number out of range ({text[:20]})")
    return value


def _bounded(data: Any, what: str, where: str) -> Any:
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


def read_package_yaml(path: Path, what: str) -> Any:
    """A table shipped in the package (``drugs.yaml``, ``modifications.yaml`` …): what
    :func:`read_yaml` gives, kept parsed beside the package's compiled bytecode.

    Parsing the package's tables is ~100 ms of a cold ``calc``; loading the kept copy ~1 ms
    (marshal stores exactly what YAML gives here: mappings, lists, text, numbers, true/false,
    null). The copy is safe to use because
    - it lives where Python keeps the package's bytecode, under the same rules (``__pycache__``,
      or ``PYTHONPYCACHEPREFIX``; nothing is written under ``PYTHONDONTWRITEBYTECODE``):
      whoever could alter it could alter the code;
    - it is used only if made from these exact bytes by this loader and this PyYAML (a hash of
      the three is stored with it): an edited table or a changed loader is parsed afresh;
    - what is kept passed every check of :func:`parse_yaml`; a damaged copy is ignored.
    A file a person gives (patient, prescription, policy) never comes here: none is written.
    """
    text = read_text(path, what)
    key = hashlib.sha256(_parser_identity() + text.encode("utf-8")).hexdigest()
    kept = _kept_path(path)
    try:
        stored_key, data = marshal.loads(kept.read_bytes())
        if stored_key == key:
            return data
    except (OSError, EOFError, ValueError, TypeError):
        pass  # none kept yet, or damaged: parse
    data = parse_yaml(text, what, str(path))
    if not sys.dont_write_bytecode:
        _keep(kept, (key, data))
    return data


@cache
def _parser_identity() -> bytes:
    """This loader's source and PyYAML's version: what, besides a file, decides its parse."""
    return Path(__file__).read_bytes() + yaml.__version__.encode()


def _kept_path(path: Path) -> Path:
    """``…/__pycache__/drugs.yaml.cpython-311.marshal`` (under PYTHONPYCACHEPREFIX if set)."""
    bytecode_dir = Path(importlib.util.cache_from_source(str(path.with_name("__init__.py")))).parent
    return bytecode_dir / f"{path.name}.{sys.implementation.cache_tag}.marshal"


def _keep(kept: Path, entry: tuple[str, Any]) -> None:
    """Write the entry whole or not at all (a parallel batch may write the same one)."""
    try:
        content = marshal.dumps(entry)
        kept.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=kept.parent, prefix=kept.name, delete=False) as stream:
            stream.write(content)
        os.replace(stream.name, kept)
    except (OSError, ValueError):  # a read-only install, or a value marshal cannot store
        return


def read_json(path: Path, what: str) -> Any:
    """Read and parse a JSON file with every bound applied (a ``.json`` patient file)."""
    return parse_json(read_text(path, what), what, str(path))
