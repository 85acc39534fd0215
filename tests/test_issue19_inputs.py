"""Issue 19 items 1 and 7: one bounded loader for every input, numbers as written, robust batches.

Each test is one finding of the second attack: the input must be refused with exit 2 naming
the field (or, for the batch, the dead worker's row reported as exit 1 and the rest rendered).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from helpers import ROOT

from chemo_orders import batch
from chemo_orders.cli import main
from chemo_orders.errors import InputError
from chemo_orders.loader import parse_json, parse_yaml
from chemo_orders.quantities import parse_quantity

PATIENT = ROOT / "samples" / "patients" / "relapsed-dlbcl.yaml"
PRESCRIPTION = ROOT / "samples" / "prescriptions" / "r-ice-relapsed-dlbcl.yaml"
DATE = ["--date", "2026-11-30"]


def _calc(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["calc", str(path), "--regimen", "r-ice", *DATE, *extra])
    return code, capsys.readouterr().err


def _patient(tmp_path: Path, extra: str, name: str = "p.yaml", drop: str = "") -> Path:
    lines = [line for line in PATIENT.read_text().splitlines() if not (drop and line.startswith(drop))]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


# A. YAML read the 1.2 way: the 1.1 forms are text, which a number field refuses naming itself.


@pytest.mark.parametrize(
    ("written", "read"),
    [
        *[("070", "070"), ("1:20", "1:20"), ("0x37", "0x37"), ("0o17", "0o17"), ("2_4", "2_4"), ("012", "012")],
        *[("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("70", 70), ("7.5", 7.5), ("true", True)],
    ],
)
def test_yaml_numbers_and_booleans_are_read_as_yaml_1_2(written: str, read: object) -> None:
    assert parse_yaml(f"value: {written}\n", "file", "f.yaml") == {"value": read}


@pytest.mark.parametrize(
    ("extra", "drop", "field"),
    [
        ("age: 070\n", "birth_date", "age"),
        ("markers: {cd20_percent: 1:20}\n", "", "markers.cd20_percent"),
        ("markers: {cd20_percent: 0x37}\n", "", "markers.cd20_percent"),
        ("markers: {cd20_percent: 2_4}\n", "", "markers.cd20_percent"),
        ("pregnant: yes\n", "", "pregnant"),
        ("age: !!int 070\n", "birth_date", "age"),
        ("pregnant: !!bool on\n", "", "pregnant"),
    ],
)
def test_yaml_1_1_forms_in_a_patient_are_refused_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, drop: str, field: str
) -> None:
    code, err = _calc(_patient(tmp_path, extra, drop=drop), capsys)
    assert code == 2, err
    assert f"{field}:" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("day", ["true", "012", "2_4"])
def test_prescription_day_true_is_not_day_1(tmp_path: Path, capsys: pytest.CaptureFixture[str], day: str) -> None:
    text = PRESCRIPTION.read_text().replace("{drug: rituximab, day: 1,", f"{{drug: rituximab, day: {day},")
    text = text.replace("../patients/relapsed-dlbcl.yaml", str(PATIENT))
    path = tmp_path / "rx.yaml"
    path.write_text(text)
    code = main(["verify", str(PATIENT), "--prescribed", str(path), *DATE])
    err = capsys.readouterr().err
    if day == "012":  # a plain decimal with a leading zero is day 12, never octal 10
        assert "day 10" not in err
        return
    assert code == 2 and "day:" in err


# B. Explicit keys count in the nesting bound: libyaml segfaulted on 30,000 of them.


@pytest.mark.parametrize("text", ["? " * 30_000 + "a\n", "? - " * 20_000 + "a\n", "- ? " * 20_000 + "a\n"])
def test_explicit_keys_are_refused_before_parsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(text)
    code, err = _calc(path, capsys)
    assert code == 2 and "nested too deeply" in err and str(path) in err
    assert len(err.strip().splitlines()) == 1


# C. `.json` patient files through the same bounded loader.


def test_json_fifo_is_refused_without_blocking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "p.json"
    os.mkfifo(fifo)
    code, err = _calc(fifo, capsys)
    assert code == 2 and "not a regular file" in err


def test_json_device_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    code, err = _calc(link, capsys)
    assert code == 2 and "not a regular file" in err


def test_json_duplicate_key_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text(
        '{"id": "MRN-1", "name": "A", "birth_date": "1970-11-02", "sex": "female", "height": "168 cm",'
        ' "weight": "72 kg", "serum_creatinine": "0.9 mg/dL", "diagnosis": "dlbcl", "disease_status": "relapsed",'
        ' "allergies": ["rituximab"], "allergies": []}'
    )
    code, err = _calc(path, capsys)
    assert code == 2 and "allergies: key given twice" in err


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[" * 100 + "]" * 100, "nested too deeply"),
        ('{"a": NaN}', "NaN is not a number"),
        ('{"a": 1e999}', "number out of range"),
        ('{"a": ' + "9" * 5000 + "}", "number too long"),
    ],
)
def test_json_bounds(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_json(text, "patient file", "p.json")


def test_fhir_sample_still_loads(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _calc(ROOT / "samples" / "fhir" / "relapsed-dlbcl.json", capsys)
    assert code in (0, 3), err


# D. The multiplier form only as x10^N.


@pytest.mark.parametrize("text", ["7 x 101 kg", "7x101kg", "6 x 100 mg", "1.8 *10^9/L", "1.8 x10**9/L", "2 x 109/L"])
def test_other_multiplier_forms_are_refused(text: str) -> None:
    with pytest.raises(InputError, match="x10\\^N") as caught:
        parse_quantity(text, "weight")
    assert caught.value.field == "weight"


def test_change_with_a_bare_multiplier_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _calc(PATIENT, capsys, "--change", "rituximab=6 x 100 mg", "--change-reason", "test")
    assert code == 2 and "--change" in err and "x10^N" in err


# E. ASCII digits in every number option.


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["calc", str(PATIENT), "--regimen", "r-ice", "--cycle", "٣"], "--cycle"),
        (["calc", str(PATIENT), "--regimen", "r-ice", "--cycle", "³"], "--cycle"),
        (["verify", str(PATIENT), "--prescribed", str(PRESCRIPTION), "--tolerance", "٥%"], "--tolerance"),
        (["verify", str(PATIENT), "--prescribed", str(PRESCRIPTION), "--tolerance", "1_0"], "--tolerance"),
        (["render", "--batch", str(PATIENT), "-o", "out", "--jobs", "٢"], "--jobs"),
        (["orders", "show", "٣", "--db", "sqlite:///unused.sqlite3"], "ORDER_ID"),
        (["orders", "prepare", str(PATIENT), "--regimen", "r-ice", "--cycle", "١", "--user", "pam"], "--cycle"),
        (["audit", "--order", "٣", "--db", "sqlite:///unused.sqlite3"], "--order"),
        (
            ["calc", str(PATIENT), "--regimen", "r-ice", "--change", "rituximab=-٢٠%", "--change-reason", "x"],
            "--change",
        ),
    ],
)
def test_non_ascii_digits_are_refused_naming_the_option(
    args: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*args, *DATE] if args[0] in ("calc", "verify") else args) == 2
    err = capsys.readouterr().err
    assert option in err and len(err.strip().splitlines()) == 1


# F. Rounding-policy increments are validated like every other input.


@pytest.mark.parametrize(("increment", "problem"), [("0 mg", "above zero"), ("5 mL", "dose amount")])
def test_rounding_increment_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], increment: str, problem: str
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        f"name: p\nsource: s\nmax_deviation_percent: 5\ndrugs:\n  rituximab: {{increment: {increment}}}\n"
    )
    code, err = _calc(PATIENT, capsys, "--policy", str(policy))
    assert code == 2 and "drugs.rituximab.increment" in err and problem in err


def test_rounding_increment_of_the_wrong_kind_for_the_dose_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("name: p\nsource: s\nmax_deviation_percent: 5\ndrugs:\n  rituximab: {increment: 100 units}\n")
    code, err = _calc(PATIENT, capsys, "--policy", str(policy))
    assert code == 2 and "drugs.rituximab.increment" in err


# G. Order ids within the record's keys; backups to a new regular path only; MRN `..`.


def test_huge_order_id_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    assert main(["orders", "show", "9" * 40, "--db", url]) == 2
    assert "ORDER_ID" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["file", "directory", "device", "symlink"])
def test_backup_refuses_an_existing_target(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    from chemo_orders.record.schema import open_database

    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    open_database(url).close()
    target = {"file": tmp_path / "old.sqlite3", "directory": tmp_path, "device": Path("/dev/null")}.get(kind)
    if kind == "file":
        target.write_bytes(b"keep me")  # type: ignore[union-attr]
    if target is None:
        target = tmp_path / "link.sqlite3"
        target.symlink_to("/dev/null")
    assert main(["db", "backup", str(target), "--db", url]) == 2
    err = capsys.readouterr().err
    assert "FILE" in err and "already exists" in err
    if kind == "file":
        assert target.read_bytes() == b"keep me"
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize("mrn", ["..", ".", "..."])
def test_mrn_of_dots_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], mrn: str) -> None:
    path = _patient(tmp_path, f"id: '{mrn}'\n", drop="id:")
    code, err = _calc(path, capsys)
    assert code == 2 and "id:" in err


# H. A batch survives a dead worker.

_real_render_one = batch.render_one


def _render_or_die(job: batch.Job) -> tuple[str, str]:
    """In a forked worker: the row of ``dies.yaml`` kills its process, as a crash in a C
    library or the OOM killer would; every other row is reported as rendered."""
    if job.patient.name == "dies.yaml":
        os.kill(os.getpid(), signal.SIGKILL)
    return "rendered", str(job.output)


def test_batch_survives_a_dead_worker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "render_one", _render_or_die)
    names = ["a", "b", "dies", "c", "d", "e", "f"]
    for name in names:
        (tmp_path / f"{name}.yaml").write_text(PATIENT.read_text())
    rows = "".join(f"{name}.yaml,r-ice,1\n" for name in names)
    (tmp_path / "jobs.csv").write_text("patient,regimen,cycle\n" + rows)
    code = main(["render", "--batch", str(tmp_path / "jobs.csv"), "-o", str(tmp_path / "out"), "--jobs", "2", *DATE])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "internal error: jobs.csv row 4: its worker process died" in out
    assert "rendered 6" in out  # every other row was attempted and reported
