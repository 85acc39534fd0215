"""Text that reaches a page or a terminal (issue 10 item 5): refused when it could deceive,
wrapped when long, and never able to push safety fields off the printed page."""

from __future__ import annotations

import io

import pytest
from helpers import ROOT, TODAY, make_patient
from pypdf import PdfReader

from chemo_orders.cli import main
from chemo_orders.dosing import Options
from chemo_orders.errors import InputError
from chemo_orders.orderset import build
from chemo_orders.regimen import load_regimen
from chemo_orders.render import build_view, pdf_bytes, render_html

LABS = {"anc": "2.4 x10^9/L", "platelets": "180 x10^9/L", "bilirubin": "0.5 mg/dL"}


@pytest.mark.parametrize("name", ["x" * 500, " ".join(["Longname"] * 60)])
def test_a_500_character_name_leaves_mrn_weight_and_crcl_on_the_first_page(name: str) -> None:
    patient = make_patient(name=name, id="MRN-LONG-1", labs=LABS)
    order_set = build(patient, load_regimen("r-ice"), Options(on=TODAY))
    first_page = PdfReader(io.BytesIO(pdf_bytes(render_html(build_view(order_set)), order_set))).pages[0]
    text = " ".join(first_page.extract_text().split())
    assert "MRN-LONG-1" in text
    assert "80 kg" in text  # weight
    assert "CrCl" in text and "mL/min" in text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "MRN-\u202e123"),  # right-to-left override: prints as a different MRN
        ("id", "MRN-1\u200b23"),  # zero-width space
        ("name", "Doe\x1b[31m, Jane"),  # terminal escape sequence
        ("name", "Doe\x00, Jane"),
        ("name", "Doe\n, Jane"),
        ("name", "x" * 1001),
    ],
)
def test_deceptive_identifiers_and_names_are_refused(field: str, value: str) -> None:
    with pytest.raises(InputError) as caught:
        make_patient(**{field: value})
    assert field in caught.value.message


def test_error_messages_escape_what_they_quote(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "samples" / "patients" / "relapsed-dlbcl.yaml"
    bad = path.read_text().replace("weight: 72 kg", 'weight: "72 \\e[2J kg"')
    target = tmp_path / "p.yaml"  # type: ignore[operator]
    target.write_text(bad)
    assert main(["calc", str(target), "--regimen", "r-ice"]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\u001b" in err and len(err.splitlines()) == 1
