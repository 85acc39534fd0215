"""Organ-function dose modifications (issue 11): applied to final doses, shown, never above full.

Doses here are worked by hand from the bands in modifications.yaml; the patients extend
tests/helpers.py BASE (175 cm, 80 kg, female, 45 y on 2026-11-22, SCr 0.9 mg/dL).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, make_patient, options
from hypothesis import given, settings
from hypothesis import strategies as st

from chemo_orders.cli import main
from chemo_orders.orderset import Acknowledgement, build, to_json
from chemo_orders.regimen import load_regimen

B_ALL = {"diagnosis": "b-all", "disease_status": "newly-diagnosed", "markers": {"philadelphia": "negative"}}


def order_set(regimen: str, acks: tuple[Acknowledgement, ...] = (), cycle: int | None = None, **patient: Any):  # type: ignore[no-untyped-def]
    loaded = load_regimen(regimen)
    return build(make_patient(**patient), loaded, options(cycle=cycle or loaded.first_cycle()), acks)


def final(orders: Any, drug: str) -> float:
    return float(next(o.final.magnitude for o in orders if o.drug == drug))


def test_ice_etoposide_at_crcl_50_is_80_percent_and_shown() -> None:
    # CrCl 50 mL/min: 140-45=95 × 80 kg / (72 × SCr) × 0.85 = 50 → SCr = 1.7944; 1.8 mg/dL gives 49.8.
    result = order_set("ice", serum_creatinine="1.8 mg/dL", measured_gfr="100 mL/min")
    # a measured GFR is used for the bands too: 100 mL/min is outside every band
    assert result.status == "ok" and final(result.orders, "etoposide") == 197
    reduced = order_set("ice", serum_creatinine="1.8 mg/dL")
    etoposide = next(o for o in reduced.orders if o.drug == "etoposide")
    # 100 mg/m² × 1.972 m² = 197.2 → 197 mg; 80 % of 197 = 157.6 → 158 mg (3 significant figures)
    assert final(reduced.orders, "etoposide") == 158
    assert etoposide.modification is not None and etoposide.modification.percent == 80
    assert "80% for CrCl 49.8 mL/min (REN001)" in etoposide.calculation
    data = next(o for o in to_json(reduced)["orders"] if o["drug"] == "etoposide")
    assert data["modified"]["percent"] == 80 and data["modified"]["full"] == {"value": 197, "unit": "mg"}
    assert "East Midlands" in data["modified"]["source"]


def test_acknowledging_keeps_the_full_dose_with_the_reason() -> None:
    ack = (Acknowledgement("REN001", "nephrology: CrCl underestimates, measured GFR pending"),)
    result = order_set("ice", acks=ack, serum_creatinine="1.8 mg/dL")
    assert result.status == "ok" and final(result.orders, "etoposide") == 197
    assert next(o for o in result.orders if o.drug == "etoposide").modification is None


def test_cisplatin_at_crcl_26_is_held() -> None:
    # SCr 3.4: 95 × 80 / (72 × 3.4) × 0.85 = 26.4 mL/min; cisplatin label band < 60 mL/min: hold
    result = order_set("r-dhap", serum_creatinine="3.4 mg/dL")
    assert result.status in ("held", "blocked")
    assert any(f.rule == "REN001" and f.severity == "hold" and "cisplatin" in f.message for f in result.findings)
    assert result.orders == ()


def test_doxorubicin_at_bilirubin_5_2_is_blocked_and_at_2_halved() -> None:
    labs = {"bilirubin": "5.2 mg/dL", "lvef_percent": 60, "anc": "2 x10^9/L", "platelets": "150 x10^9/L"}
    assert order_set("hyper-cvad-a", labs=labs, **B_ALL).status == "blocked"
    labs["bilirubin"] = "2 mg/dL"
    result = order_set("hyper-cvad-a", labs=labs, **B_ALL)
    doxorubicin = next(o for o in result.orders if o.drug == "doxorubicin")
    assert doxorubicin.modification is not None and doxorubicin.modification.percent == 50
    assert doxorubicin.final < doxorubicin.modification.full


def test_lvef_30_blocks_an_anthracycline() -> None:
    result = order_set("hyper-cvad-a", labs={"lvef_percent": 30, "bilirubin": "0.5 mg/dL"}, **B_ALL)
    assert result.status == "blocked" and any(f.rule == "CAR001" for f in result.blocking)


@settings(max_examples=60, deadline=None)
@given(
    scr=st.floats(min_value=0.4, max_value=12),
    bilirubin=st.floats(min_value=0.1, max_value=9),
    regimen=st.sampled_from(["ice", "r-chop", "hyper-cvad-a", "hyper-cvad-b", "r-dhap"]),
)
def test_a_modified_dose_is_never_above_the_full_dose_or_a_cap(scr: float, bilirubin: float, regimen: str) -> None:
    patient = {
        **(
            B_ALL
            if "hyper" in regimen
            else {"disease_status": "relapsed" if regimen != "r-chop" else "newly-diagnosed"}
        ),
        "serum_creatinine": f"{scr:.2f} mg/dL",
        "labs": {
            "bilirubin": f"{bilirubin:.2f} mg/dL",
            "lvef_percent": 60,
            "anc": "2 x10^9/L",
            "platelets": "150 x10^9/L",
        },
    }
    loaded = load_regimen(regimen)
    result = build(make_patient(**patient), loaded, options(cycle=loaded.first_cycle()))
    for order in result.calculation.orders:
        if order.modification is not None:
            assert order.final <= order.modification.full
        if order.maximum is not None:
            assert order.final <= order.maximum.to(order.final.units)


def _calc(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main([*args, "--date", "2026-11-30", "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {}


def _patient(tmp_path: Path, extra: str, base: str = "adult-b-all-cd20-negative.yaml") -> Path:
    path = tmp_path / "p.yaml"
    path.write_text((ROOT / "samples" / "patients" / base).read_text() + extra)
    return path


def test_hold_exits_3_and_an_acknowledgement_with_reason_releases_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _patient(tmp_path, "").read_text().replace("birth_date: ", "birth_date_was: ").splitlines()
    text = "\n".join(line for line in old if not line.startswith("birth_date_was")) + "\nage: 75\n"
    path = tmp_path / "old.yaml"
    path.write_text(text)
    code, data = _calc(["calc", str(path), "--regimen", "hyper-cvad-a"], capsys)
    assert code == 3 and data["status"] == "held" and data["orders"] == []
    code, data = _calc(
        [
            "calc",
            str(path),
            "--regimen",
            "hyper-cvad-a",
            "--acknowledge",
            "AGE001",
            "--reason",
            "fit, ECOG 0; tumour board",
        ],
        capsys,
    )
    assert code == 0 and data["status"] == "ok" and data["orders"]
    assert data["acknowledgements"] == [{"rule": "AGE001", "reason": "fit, ECOG 0; tumour board"}]


def test_a_block_cannot_be_acknowledged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _patient(tmp_path, "prior_cumulative: {Adriamycin: 540 mg/m2}\n")
    code = main(
        [
            "calc",
            str(path),
            "--regimen",
            "hyper-cvad-a",
            "--date",
            "2026-11-30",
            "--acknowledge",
            "DOS002",
            "--reason",
            "no",
        ]
    )
    assert code == 2 and "cannot be overridden" in capsys.readouterr().err


@pytest.mark.parametrize("cycle", ["5", "10"])
def test_a_cycle_with_no_drugs_for_this_patient_is_bad_input(
    tmp_path: Path, cycle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = "markers: {cd20_percent: 5, philadelphia: negative, mrd_percent: 0.5}\n"
    text = (
        _patient(tmp_path, "").read_text().replace("markers: {cd20_percent: 5, philadelphia: negative}", extra.strip())
    )
    path = tmp_path / "mrd.yaml"
    path.write_text(text.replace("disease_status: newly-diagnosed", "disease_status: mrd-positive"))
    code = main(["calc", str(path), "--regimen", "blinatumomab", "--cycle", cycle, "--date", "2026-11-30"])
    assert code == 2 and "--cycle" in capsys.readouterr().err


def test_mesna_follows_a_reduced_ifosfamide() -> None:
    """ICE: ifosfamide 70 % at CrCl 40-60 mL/min; mesna (100 % of the ifosfamide dose) follows."""
    from chemo_orders.loader import read_yaml
    from chemo_orders.models import validate
    from chemo_orders.regimen import Regimen, regimen_paths

    data = read_yaml(regimen_paths()["ice"], "regimen file")
    for line in data["drugs"]:
        if line["drug"] == "mesna":
            line["scales_with"] = "ifosfamide"
    regimen = validate(Regimen, data, "ice")
    result = build(make_patient(serum_creatinine="1.8 mg/dL"), regimen, options())
    ifosfamide = next(o for o in result.orders if o.drug == "ifosfamide")
    mesna = next(o for o in result.orders if o.drug == "mesna")
    assert ifosfamide.modification is not None and ifosfamide.modification.percent == 70
    assert mesna.modification is not None and mesna.modification.percent == 70
    assert mesna.final == ifosfamide.final  # 5000 mg/m² each: 9,860 mg → 70 % = 6,902 → 6,900 mg
    assert float(mesna.final.magnitude) == 6900


def test_verification_honours_the_preparers_acknowledgement() -> None:
    """A held order acknowledged with a reason is verified against the same acknowledged calculation."""
    from helpers import verify

    from chemo_orders.verify import Prescription

    patient = make_patient(birth_date=None, age=76, **B_ALL)
    prescription = Prescription.model_validate(
        {"regimen": "hyper-cvad-a", "cycle": 1, "doses": [{"drug": "cyclophosphamide", "day": 1, "dose": "590 mg"}]}
    )
    assert verify(patient, prescription, options(), 5).order_set.status == "held"
    ack = (Acknowledgement("AGE001", "fit; tumour board"),)
    checked = verify(patient, prescription, options(), 5, acknowledgements=ack)
    assert checked.order_set.status == "ok"
    assert next(line for line in checked.lines if line.drug == "cyclophosphamide").verdict == "ok"


def test_verification_expects_the_band_reduced_dose() -> None:
    """ICE at CrCl 49.8 mL/min: etoposide 80 % = 158 mg is what a verifier expects, not 197 mg."""
    from helpers import verify

    from chemo_orders.verify import Prescription

    prescription = Prescription.model_validate(
        {"regimen": "ice", "cycle": 1, "doses": [{"drug": "etoposide", "day": 1, "dose": "158 mg"}]}
    )
    checked = verify(make_patient(serum_creatinine="1.8 mg/dL"), prescription, options(), 5)
    assert next(line for line in checked.lines if line.drug == "etoposide" and line.day == 1).verdict == "ok"
