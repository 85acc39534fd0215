"""Patients entered in the workbench (record.patients), on SQLite and on PostgreSQL.

A save adds a version and keeps the others; a change of weight, creatinine or a laboratory
value sends unreleased orders back to the verification queue as new orders; the audit chain
covers every version.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from record_fixtures import me

from chemo_orders.errors import InputError
from chemo_orders.record import Refused, audit
from chemo_orders.record import patients as store
from chemo_orders.record.db import Database
from chemo_orders.record.orders import PrepareRequest, VerifyRequest, list_orders, prepare, release, show, verify

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "patients" / "newly-diagnosed-dlbcl.yaml"


def data(**changes: Any) -> dict[str, Any]:
    """The R-CHOP sample patient as the workbench stores it (JSON types, quantities as text)."""
    loaded = json.loads(json.dumps(yaml.safe_load(SAMPLE.read_text()), default=str))
    return {**loaded, **changes}


def prepared(
    record: Database, patient: dict[str, Any], user: str = "pam", cycle: int | None = None, on: dt.date | None = None
) -> int:
    request = PrepareRequest(store.file_bytes(patient), "workbench", "r-chop", me(user), cycle=cycle, on=on)
    return prepare(record, request).order_id


def test_versions_are_kept_and_the_newest_is_shown(record: Database) -> None:
    assert store.save(record, "pam", data(), new=True) == 1
    assert store.save(record, "priya", data(weight="95 kg"), new=False) == 2
    entry = store.entry(record, data()["id"])
    assert entry is not None and entry.data is not None
    assert entry.data["weight"] == "95 kg"
    assert [(v.version, v.saved_by, v.data["weight"]) for v in entry.versions] == [
        (2, "priya", "95 kg"),
        (1, "pam", "90 kg"),
    ]
    with record.read() as session:
        assert audit.verify(session) == []


def test_an_mrn_is_entered_once_and_only_by_a_preparer(record: Database) -> None:
    store.save(record, "pam", data(), new=True)
    with pytest.raises(InputError, match="has a patient with this MRN"):
        store.save(record, "pam", data(), new=True)
    with pytest.raises(Refused, match="nurse"):
        store.save(record, "nina", data(weight="91 kg"), new=False)
    with pytest.raises(InputError, match="weight"):
        store.save(record, "pam", data(weight="91"), new=False)


def test_search_by_name_or_mrn_any_case_and_wildcards_are_literal(record: Database) -> None:
    store.save(record, "pam", data(), new=True)
    store.save(record, "pam", data(id="MRN-9_1", name="Smith, Jo"), new=True)
    assert [s.patient_id for s in store.search(record, "smith")] == ["MRN-9_1"]
    assert [s.patient_id for s in store.search(record, "9_1")] == ["MRN-9_1"]
    assert store.search(record, "%") == []
    assert len(store.search(record, "")) == 2


def test_a_patient_prepared_from_a_file_shows_that_file(record: Database) -> None:
    order_id = prepared(record, data())
    entry = store.entry(record, data()["id"])
    assert entry is not None and entry.from_order == order_id and entry.data is not None
    assert entry.data["weight"] == "90 kg" and entry.versions == ()


def test_a_changed_weight_sends_a_verified_order_back_to_the_queue(record: Database) -> None:
    store.save(record, "pam", data(), new=True)
    old = prepared(record, data(), cycle=2)
    verify(record, VerifyRequest(old, me("phil")))
    released = prepared(record, data(), cycle=1, on=dt.date.today() - dt.timedelta(days=21))
    verify(record, VerifyRequest(released, me("phil")))
    release(record, released, me("phil"))
    heavier = data(weight="100 kg")
    store.save(record, "pam", heavier, new=False)
    stale = store.stale_orders(record, heavier["id"], heavier)
    assert stale == [(old, ("weight",))]  # the released order was given: it stays
    replacement = store.reprepare(record, old, ("weight",), me("pam"), heavier)
    assert replacement.new_order is not None and replacement.new_order.state == "prepared"
    assert replacement.new_order.calc["patient"]["weight_kg"] == 100
    assert show(record, old).state == "cancelled" and "weight changed" in (show(record, old).cancel_reason or "")
    assert store.replaced_by(record, replacement.new_order.order_id) == (old, None)
    assert store.replaced_by(record, old) == (None, replacement.new_order.order_id)
    assert [o.order_id for o in list_orders(record, state="prepared")] == [replacement.new_order.order_id]
    with record.read() as session:
        assert audit.verify(session) == []


def test_a_name_or_note_change_sends_nothing_back(record: Database) -> None:
    store.save(record, "pam", data(), new=True)
    prepared(record, data())
    renamed = data(name="Okafor-Smith, Daniel", weight="90.0 kg")
    store.save(record, "pam", renamed, new=False)
    assert store.stale_orders(record, renamed["id"], renamed) == []


def test_a_new_lab_value_counts_as_a_change(record: Database) -> None:
    store.save(record, "pam", data(), new=True)
    order_id = prepared(record, data())
    with_bilirubin = data(labs={**data()["labs"], "bilirubin": "3.5 mg/dL"})
    store.save(record, "pam", with_bilirubin, new=False)
    assert store.stale_orders(record, with_bilirubin["id"], with_bilirubin) == [(order_id, ("labs.bilirubin",))]


@given(st.sampled_from([("kg", 45.0, 150.0), ("lb", 100.0, 330.0)]), st.floats(min_value=0, max_value=1))
def test_dose_inputs_compare_quantities_not_spellings(unit_range: tuple[str, float, float], at: float) -> None:
    unit, low, high = unit_range  # plausible for the sample's 182 cm
    weight = low + at * (high - low)
    base = store.parse(data(weight=f"{weight:.3f} {unit}"))
    same = store.parse(data(weight=f"{weight:.3f}0 {unit}"))
    other = store.parse(data(weight=f"{weight + 0.5:.3f} {unit}"))
    assert store.changed_inputs(base, same) == ()
    assert store.changed_inputs(base, other) == ("weight",)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"allergies": ["rituximab (anaphylaxis)"]}, "allergies"),
        ({"sex": "female"}, "sex"),
        ({"diagnosis": "follicular-lymphoma"}, "diagnosis"),
        ({"history": [{"condition": "acute pancreatitis"}]}, "history"),
        ({"medications": ["posaconazole"]}, "medications"),
        ({"pregnant": True}, "pregnant"),
        ({"markers": {"cd20_percent": 90}}, "markers.cd20_percent"),
    ],
)
def test_any_clinical_change_sends_the_order_back(record: Database, change: dict[str, Any], field: str) -> None:
    """Issue 19: not only measurements; an allergy, sex, history or co-medication changes the
    calculation or its findings, so a prepared or verified order goes back to the queue."""
    store.save(record, "pam", data(), new=True)
    order_id = prepared(record, data())
    changed = data(**change)
    store.save(record, "pam", changed, new=False)
    stale = store.stale_orders(record, changed["id"], changed)
    assert stale and stale[0][0] == order_id and field in stale[0][1]
