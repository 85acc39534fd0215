"""The treatment plan page (issue 22 item 4): its SVG charts, its calendar and who sees what.

The charts are checked as numbers (values → coordinates in the viewBox) and as accessible
markup (a named ``role="img"``, a description, a table of the values, escaped text); no data
gives a sentence. The page is read over HTTP as each role reads it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx2
import pytest
from test_web_http import API_PATIENT, PATIENT, order_form
from web_fixtures import STAFF, Server
from web_steps import axe_violations, new_mrn, sign_in

from chemo_orders.drugs import drug_table
from chemo_orders.plan import load_plan
from chemo_orders.record.history import GivenCourse
from chemo_orders.record.patients import parse
from chemo_orders.web.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, Chart, Limit, Point, coordinates, figure
from chemo_orders.web.plan_page import anthracycline, calendar


def chart(*values: float, limits: tuple[Limit, ...] = ()) -> Chart:
    return Chart("c", "Platelets", "×10⁹/L", tuple(Point(f"day {i}", v) for i, v in enumerate(values)), limits)


def test_values_become_coordinates_from_zero_to_a_tenth_above_the_largest() -> None:
    bottom, plot = HEIGHT - BOTTOM, HEIGHT - TOP - BOTTOM
    found = coordinates(chart(0, 50, 100))
    assert [x for x, _ in found] == [LEFT, LEFT + (WIDTH - LEFT - RIGHT) / 2, WIDTH - RIGHT]
    assert found[0][1] == bottom
    assert found[2][1] == pytest.approx(TOP + plot * (1 - 100 / 110), abs=0.05)
    assert found[1][1] == pytest.approx(TOP + plot * (1 - 50 / 110), abs=0.05)
    # A limit above every value sets the scale, and is drawn where its value is.
    limited = chart(100, limits=(Limit("lifetime limit", 550),))
    assert coordinates(limited) == [
        (LEFT + (WIDTH - LEFT - RIGHT) / 2, pytest.approx(TOP + plot * (1 - 100 / 605), abs=0.05))
    ]
    y = round(TOP + plot * (1 - 550 / 605), 1)
    assert f'y1="{y}"' in figure(limited) and "lifetime limit 550" in figure(limited)


def test_a_chart_is_a_named_image_with_its_values_in_a_table() -> None:
    html = str(figure(chart(150, 95.5)))
    svg = re.search(r"<svg[^>]*>", html)
    assert svg and 'role="img"' in svg.group() and 'aria-labelledby="c-title"' in svg.group()
    assert '<title id="c-title">Platelets (×10⁹/L)</title>' in html
    assert "2 values: 150 ×10⁹/L (day 0) to 95.5 ×10⁹/L (day 1)." in html
    assert "<caption>Platelets: values</caption>" in html and '<td class="num">95.5 ×10⁹/L</td>' in html
    assert 'viewBox="0 0 320 160"' in html and "width=" not in svg.group()  # scales with the screen


def test_no_values_give_a_sentence_not_an_empty_chart() -> None:
    empty = Chart("e", "ANC", "×10⁹/L", (), empty="No ANC value in the saved versions.")
    assert str(figure(empty)) == '<p class="empty">No ANC value in the saved versions.</p>'


def test_every_text_in_a_chart_is_escaped() -> None:
    hostile = Chart("x", "<script>alert(1)</script>", "mg", (Point('"><img src=x>', 1),))
    html = str(figure(hostile))
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html


def given(order_id: int, regimen: str, cycle: int, on: str, **mg_per_m2: float) -> GivenCourse:
    return GivenCourse(order_id, "released", "pam", regimen, cycle, dt.date.fromisoformat(on), None, mg_per_m2, ())


def test_calendar_keeps_recorded_dates_and_dates_the_rest_one_cycle_later() -> None:
    plan = load_plan("hyper-cvad")
    rows = calendar(
        plan,
        [given(1, "hyper-cvad-a", 1, "2026-01-05"), given(2, "hyper-cvad-b", 2, "2026-01-30")],
        dt.date(2025, 1, 1),
    )
    assert [(r.regimen.id, r.cycle) for r in rows[:3]] == [
        ("hyper-cvad-a", 1),
        ("hyper-cvad-b", 2),
        ("hyper-cvad-a", 3),
    ]
    assert [r.start for r in rows[:3]] == [dt.date(2026, 1, 5), dt.date(2026, 1, 30), dt.date(2026, 2, 20)]
    assert rows[0].given is not None and rows[2].given is None
    assert rows[0].days[0].text == "days 1–4 (05 Jan–08 Jan)"
    assert len(rows) > 8 and rows[8].regimen.id == "pomp"  # maintenance after the eighth course


def test_anthracycline_counts_prior_exposure_and_orders_against_the_cited_limit() -> None:
    patient = parse({**API_PATIENT, "prior_cumulative": {"daunorubicin": "100 mg/m2"}})
    found = anthracycline(patient, [given(1, "hyper-cvad-a", 1, "2026-01-05", doxorubicin=50.0)], dt.date(2026, 1, 5))
    assert found is not None
    chart_, sources = found
    factor = drug_table().get("daunorubicin").doxorubicin_equivalent
    assert factor is not None
    assert [p.value for p in chart_.points] == pytest.approx([100 * factor.factor, 100 * factor.factor + 50])
    limit = drug_table().anthracycline_limits.adult
    assert limit is not None and chart_.limits[0].value == limit.limit.magnitude
    assert sources == drug_table().cite(limit.source)
    assert (
        anthracycline(parse(API_PATIENT), [given(1, "r-ice", 1, "2026-01-05", ifosfamide=5000.0)], dt.date(2026, 1, 5))
        is None
    )


def http_sign_in(client: httpx2.Client, name: str) -> str:
    """Signs ``name`` in on the session's server; returns the session's CSRF token."""
    form = client.get("/signin").text
    token = re.search(r'name="signin_token" value="([^"]+)"', form)
    assert token
    data = {"username": name, "password": STAFF[name][1], "signin_token": token.group(1)}
    assert client.post("/signin", data=data).status_code == 303
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/patients").text)
    assert found
    return found.group(1)


@pytest.fixture(scope="module")
def planned(server: Server) -> str:
    """A patient on the session's server with one prepared R-hyper-CVAD order (pam's); its MRN."""
    mrn = new_mrn()
    with httpx2.Client(base_url=server.url) as client:
        token = http_sign_in(client, "pam")
        patient = {**PATIENT, "mrn": mrn, "csrf_token": token}
        assert client.post("/patients", data=patient).status_code == 303
        prepared = client.post(f"/patients/{mrn}/orders", data=order_form(token, "r-hyper-cvad-a"))
        assert prepared.status_code == 303, prepared.text
    return mrn


def test_the_plan_page_as_each_role_reads_it(server: Server, planned: str) -> None:
    url = f"/patients/{planned}/plan"
    with httpx2.Client(base_url=server.url) as pam:
        http_sign_in(pam, "pam")
        assert f'href="{url}"' in pam.get(f"/patients/{planned}").text  # the patient page links to it
        page = pam.get(url).text
        assert "Calendar: R-hyper-CVAD" in page  # the plan the order's regimen belongs to
        assert re.search(r"Order \d+</a> — prepared", page) and "DOXOrubicin" in page  # the preparer sees her doses
        assert 'role="img"' in page and "lifetime limit" in page
        assert " style=" not in page and "<script>" not in page
        assert "Decision support: requires independent verification by a pharmacist" in page
        other = pam.get(f"{url}?plan=hyper-cvad").text
        assert "Calendar: Hyper-CVAD" in other and "On the record but not a course of this plan" in other
        assert pam.get(f"{url}?plan=nonsense").status_code == 422
        assert pam.get(f"{url}?start=tomorrow").status_code == 422
    with httpx2.Client(base_url=server.url) as phil:  # the order waits for his independent check
        http_sign_in(phil, "phil")
        blind = phil.get(url).text
        assert re.search(r"Order \d+</a> — prepared", blind) and "DOXOrubicin" not in blind
        assert "1 order not shown" in blind
    with httpx2.Client(base_url=server.url) as nina:  # a nurse reads the plan, not unreleased doses
        http_sign_in(nina, "nina")
        nurse = nina.get(url)
        assert nurse.status_code == 200 and "DOXOrubicin" not in nurse.text and "not yet released" in nurse.text
    assert httpx2.get(f"{server.url}{url}", follow_redirects=False).status_code == 303  # signed out: sign in first


def test_the_plan_page_is_accessible_and_fits_a_phone(phone: Any, planned: str) -> None:
    page = phone
    sign_in(page, "pam")
    page.goto(f"/patients/{planned}/plan")
    assert axe_violations(page, every=True) == []
    images = page.get_by_role("img")
    assert images.count() >= 3  # anthracycline, creatinine, weight
    names = [images.nth(i).get_attribute("aria-labelledby") for i in range(images.count())]
    assert "anthracycline-title" in names
    assert page.get_by_role("img", name="Cumulative anthracycline, doxorubicin equivalents (mg/m²)").is_visible()
    assert page.get_by_role("table", name="Serum creatinine: values").is_visible()
    assert page.get_by_text("No ANC value in the saved versions.").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
