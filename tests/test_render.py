"""The printed order set, read back from the PDF as a nurse or pharmacist would read it."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, TODAY, make_patient
from pypdf import PdfReader

from chemo_orders.dosing import Options
from chemo_orders.orderset import OrderSet, build
from chemo_orders.patient import load_patient
from chemo_orders.pdf import _fetcher_class, templates_dir
from chemo_orders.regimen import load_regimen
from chemo_orders.render import build_view, pdf_bytes, render_html

SAMPLES = ROOT / "samples" / "patients"


def order_set(patient_file: str, regimen: str) -> OrderSet:
    patient = load_patient(SAMPLES / f"{patient_file}.yaml")
    return build(patient, load_regimen(regimen), Options(on=TODAY, cycle=load_regimen(regimen).first_cycle()))


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture(scope="module")
def hyper_cvad() -> tuple[bytes, str]:
    os_ = order_set("adult-b-all-cd20-positive", "r-hyper-cvad-a")
    data = pdf_bytes(render_html(build_view(os_)), os_)
    return data, pdf_text(data)


@pytest.fixture(scope="module")
def r_ice() -> str:
    os_ = order_set("relapsed-dlbcl", "r-ice")
    return pdf_text(pdf_bytes(render_html(build_view(os_, "letter")), os_))


def test_identity_and_header(hyper_cvad: tuple[bytes, str]) -> None:
    text = hyper_cvad[1]
    for expected in (
        "Rivera, Ana",
        "MRN-100001",
        "1981-03-14",
        "penicillin",
        "R-hyper-CVAD course A",
        "1.765 m² (Mosteller)",
        "Cockcroft-Gault",
        "Page 1 of",
        "version 4",
    ):
        assert expected in text, expected


def test_every_drug_and_final_dose(hyper_cvad: tuple[bytes, str]) -> None:
    text = hyper_cvad[1]
    for name, dose in [
        ("cyclophosphamide", "530 mg"),
        ("riTUXimab", "662 mg"),
        ("vinCRIStine", "2 mg"),
        ("DOXOrubicin", "88.3 mg"),
        ("dexamethasone", "40 mg"),
        ("methotrexate", "12 mg"),
    ]:
        assert name in text and dose in text, name


def test_vinca_warning_and_intrathecal_section(hyper_cvad: tuple[bytes, str]) -> None:
    text = " ".join(hyper_cvad[1].split())
    assert "FOR INTRAVENOUS USE ONLY—FATAL IF GIVEN BY OTHER ROUTES" in text
    assert "Intrathecal orders — For intrathecal use only" in text


def test_disclaimer_on_every_page(hyper_cvad: tuple[bytes, str]) -> None:
    reader = PdfReader(io.BytesIO(hyper_cvad[0]))
    for page in reader.pages:
        assert "requires independent verification by a pharmacist" in " ".join(page.extract_text().split())


def test_citations_and_signatures(r_ice: str) -> None:
    for expected in (
        "PMID 14739217",
        "doi:10.1182/blood-2003-11-3911",
        "Prescriber",
        "Verifying pharmacist",
        "Administering nurse 1",
        "Administering nurse 2",
        "CARBOplatin",
        "AUC 5",
    ):
        assert expected in r_ice, expected


def test_no_trailing_zeros_and_leading_zeros(r_ice: str) -> None:
    assert not re.search(r"\d\.\d*0 (mg|mcg|units|mL)\b", r_ice)
    assert not re.search(r"(?<![\d.])\.\d+ (mg|mcg)", r_ice)


def test_pdf_metadata(hyper_cvad: tuple[bytes, str]) -> None:
    metadata = PdfReader(io.BytesIO(hyper_cvad[0])).metadata
    assert metadata is not None
    assert metadata["/Author"] == "chemo-orders"
    assert "R-hyper-CVAD course A" in metadata["/Title"] and "pharmacist" in metadata["/Subject"]


def test_calc_json_is_attached(hyper_cvad: tuple[bytes, str]) -> None:
    reader = PdfReader(io.BytesIO(hyper_cvad[0]))
    record = json.loads(reader.attachments["calculation.json"][0])
    assert record["status"] == "ok" and record["regimen"]["id"] == "r-hyper-cvad-a"


def test_user_html_is_printed_literally_and_fetches_nothing(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    name = f'<img src="file://{secret}"><b>Evil</b> & <script>x</script>'
    # An allergy must name a known substance (issue 19); the hostile markup rides along with it.
    patient = make_patient(name=name, allergies=[f'latex <link rel=stylesheet href="file://{secret}">'])
    os_ = build(patient, load_regimen("r-ice"), Options(on=TODAY))
    html = render_html(build_view(os_))
    assert "<img src=" not in html and "&lt;img src=" in html
    text = pdf_text(pdf_bytes(html, os_))
    assert "<b>Evil</b>" in text and "TOP-SECRET-CONTENT" not in text


def test_fetcher_serves_only_the_templates_folder(tmp_path: Path) -> None:
    fetcher = _fetcher_class()(templates_dir())
    assert fetcher.fetch((templates_dir() / "order_set.css").as_uri()).status == 200
    for url in (
        "http://127.0.0.1:9/x.png",
        (tmp_path / "x.css").as_uri(),
        "file:///etc/passwd",
        (templates_dir() / ".." / "README.md").as_uri(),
    ):
        with pytest.raises(ValueError):
            fetcher.fetch(url)


def test_blocked_render_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.pdf"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chemo_orders.cli",
            "render",
            str(SAMPLES / "adult-b-all-cd20-positive.yaml"),
            "--regimen",
            "r-ice",
            "-o",
            str(target),
            "--html",
            str(tmp_path / "out.html"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    assert list(tmp_path.iterdir()) == []
    assert "IND002" in result.stdout


def test_batch_render_skips_bad_and_blocked_inputs(tmp_path: Path) -> None:
    rows = [
        "patient,regimen,cycle",
        f"{SAMPLES}/relapsed-dlbcl.yaml,r-ice,1",
        f"{SAMPLES}/adult-b-all-cd20-positive.yaml,r-ice,1",
        f"{tmp_path}/no-such-patient.yaml,r-ice,1",
        f"{SAMPLES}/relapsed-t-all.yaml,nelarabine,1",
    ]
    (tmp_path / "jobs.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chemo_orders.cli",
            "render",
            "--batch",
            str(tmp_path / "jobs.csv"),
            "-o",
            str(out),
            "--jobs",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "blocked 1, error 1, rendered 2" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "relapsed-dlbcl--r-ice--cycle-1.pdf",
        "relapsed-t-all--nelarabine--cycle-1.pdf",
    ]
    assert "file not found" in result.stdout and result.returncode == 2
    assert "nelarabine" in pdf_text((out / "relapsed-t-all--nelarabine--cycle-1.pdf").read_bytes())
