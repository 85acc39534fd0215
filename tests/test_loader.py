"""The hardened YAML loader (issue 10 item 3): every hostile file is exit 2, quickly."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from chemo_orders.cli import main
from chemo_orders.errors import InputError
from chemo_orders.loader import MAX_BYTES, _kept_path, nesting_depth, parse_yaml, read_package_yaml, read_yaml

PATIENT = Path(__file__).parents[1] / "samples" / "patients" / "relapsed-dlbcl.yaml"


def _calc(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["calc", str(path), "--regimen", "r-ice", "--date", "2026-11-30"])
    captured = capsys.readouterr()
    return code, captured.err


def test_duplicate_key_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PATIENT.read_text() + "weight: 40 kg\n")
    code, err = _calc(path, capsys)
    assert code == 2
    assert "weight: key given twice" in err


def test_impossible_date_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "\n".join(
        "birth_date: 1970-02-30" if line.startswith(("birth_date", "age:")) else line
        for line in PATIENT.read_text().splitlines()
    )
    path = tmp_path / "p.yaml"
    path.write_text(text + "\n")
    code, err = _calc(path, capsys)
    assert code == 2
    assert "birth_date" in err


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null"])
def test_special_files_are_refused(special: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _calc(Path(special), capsys)
    assert code == 2
    assert "not a regular file" in err


def test_fifo_is_refused_without_blocking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    code, err = _calc(fifo, capsys)
    assert code == 2 and "not a regular file" in err


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("name: " + "x" * (MAX_BYTES + 10) + "\n")
    with pytest.raises(InputError, match="too large"):
        read_yaml(path, "patient file")


@pytest.mark.parametrize(
    "text", ["[" * 100_000 + "]" * 100_000, "a:\n" + "".join(" " * (2 * i) + "b:\n" for i in range(1, 200))]
)
def test_deep_nesting_is_refused_before_parsing(text: str) -> None:
    assert nesting_depth(text) > 40
    with pytest.raises(InputError, match="nested too deeply"):
        parse_yaml(text, "patient file", "p.yaml")


def test_billion_laughs_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    with pytest.raises(InputError, match="too many values"):
        parse_yaml("\n".join(lines), "patient file", "p.yaml")


def test_self_referencing_alias_is_refused() -> None:
    with pytest.raises(InputError, match="too many values"):
        parse_yaml("a: &a [*a]\n", "patient file", "p.yaml")


@pytest.mark.parametrize(("data", "problem"), [(b"name: a\x00b\n", "NUL"), (b"name: \xff\xfe\n", "not UTF-8")])
def test_binary_content_is_refused(tmp_path: Path, data: bytes, problem: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(data)
    with pytest.raises(InputError, match=problem):
        read_yaml(path, "patient file")


def test_byte_order_mark_and_crlf_are_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + PATIENT.read_bytes().replace(b"\n", b"\r\n"))
    assert _calc(path, capsys)[0] == main(["calc", str(PATIENT), "--regimen", "r-ice", "--date", "2026-11-30"])


@pytest.mark.parametrize("tagged", ["weight: !!float", "weight: !!int ''", "sex: !!bool", "birth_date: !!timestamp x"])
def test_explicit_yaml_tags_with_odd_values_are_bad_input(
    tmp_path: Path, tagged: str, capsys: pytest.CaptureFixture[str]
) -> None:
    field = tagged.split(":")[0]
    text = "\n".join(tagged if line.startswith(f"{field}:") else line for line in PATIENT.read_text().splitlines())
    path = tmp_path / "p.yaml"
    path.write_text(text + "\n")
    code, err = _calc(path, capsys)
    assert code == 2 and "internal error" not in err


def test_an_error_path_names_the_field_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PATIENT.read_text() + "prior_cumulative: {doxorubicine: 50 mg/m2}\n")
    code, err = _calc(path, capsys)
    assert code == 2 and "prior_cumulative.doxorubicine:" in err and "prior_cumulative.prior_cumulative" not in err


PACKAGE_TABLES = sorted((Path(__file__).parents[1] / "src" / "chemo_orders").glob("*.yaml"))


@pytest.fixture
def keeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsed tables kept, as in an installed package (bytecode written, no prefix)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", None)


@pytest.mark.parametrize("table", PACKAGE_TABLES, ids=lambda p: p.name)
def test_a_kept_table_is_the_parsed_table(table: Path, tmp_path: Path, keeping: None) -> None:
    copy = tmp_path / table.name
    copy.write_bytes(table.read_bytes())
    parsed = read_yaml(copy, "table")
    assert read_package_yaml(copy, "table") == parsed  # parsed, then kept
    assert _kept_path(copy).is_file()
    assert read_package_yaml(copy, "table") == parsed  # from the kept copy


def test_an_edited_table_is_parsed_afresh(tmp_path: Path, keeping: None) -> None:
    table = tmp_path / "table.yaml"
    table.write_text("dose: 375 mg/m**2\n")
    assert read_package_yaml(table, "table") == {"dose": "375 mg/m**2"}
    table.write_text("dose: 500 mg/m**2\n")
    assert read_package_yaml(table, "table") == {"dose": "500 mg/m**2"}


def test_a_damaged_copy_is_ignored(tmp_path: Path, keeping: None) -> None:
    table = tmp_path / "table.yaml"
    table.write_text("dose: 375 mg/m**2\n")
    read_package_yaml(table, "table")
    for damage in (b"", b"\x00garbage", _kept_path(table).read_bytes()[:-3]):
        _kept_path(table).write_bytes(damage)
        assert read_package_yaml(table, "table") == {"dose": "375 mg/m**2"}


def test_a_bad_table_is_refused_and_not_kept(tmp_path: Path, keeping: None) -> None:
    table = tmp_path / "table.yaml"
    table.write_text("dose: 1\ndose: 2\n")
    with pytest.raises(InputError, match="key given twice"):
        read_package_yaml(table, "table")
    assert not _kept_path(table).exists()


def test_nothing_is_kept_when_bytecode_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    table = tmp_path / "table.yaml"
    table.write_text("dose: 375 mg/m**2\n")
    assert read_package_yaml(table, "table") == {"dose": "375 mg/m**2"}
    assert not _kept_path(table).exists()
