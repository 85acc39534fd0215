"""Screenshots of every workbench screen at a phone's and a desktop's width, for docs/web.md.

    .venv/bin/python scripts/web_screenshots.py

Starts ``chemo-orders serve`` on a temporary record with the test users (the browser tests'
own fixtures), walks every screen in Debian's Chromium at 390×844 and 1440×900 and writes
docs/web-<screen>-<width>.png (run after a UI change, then look at them).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from web_fixtures import CHROMIUM, CHROMIUM_ARGS, add_staff, start_server  # noqa: E402
from web_steps import LINDQVIST, RIVERA, choose_regimen, new_patient, sign_in, sign_out  # noqa: E402

DOCS = ROOT / "docs"
WIDTHS = {390: 844, 1440: 900}
TYPED = ["530 mg", "1,060 mg/day", "660 mg", "2 mg", "88 mg", "40 mg", "12 mg", "100 mg"]


def walk(page: Any, width: int) -> None:
    """Every screen once, in the order a shift meets them."""

    def shot(name: str, full: bool = True) -> None:
        # From the top, tables scrolled back to their first column: else the sticky regimen
        # bar is caught mid-page and a phone's dose table shows only its last columns.
        page.evaluate("window.scrollTo(0, 0); document.querySelectorAll('.scroll').forEach(e => { e.scrollLeft = 0; })")
        page.screenshot(path=str(DOCS / f"web-{name}-{width}.png"), full_page=full)
        print(f"wrote docs/web-{name}-{width}.png")

    page.goto("/signin")
    shot("sign-in", full=False)
    sign_in(page, "pam")
    held = new_patient(page, {**LINDQVIST, "MRN": f"MRN-{width}-3"})
    page.get_by_role("link", name="New patient").click()
    page.get_by_label("Height", exact=True).fill("175")
    page.get_by_role("button", name="Save patient").click()
    shot("patient-form-error")
    mrn = new_patient(page, {**RIVERA, "MRN": f"MRN-{width}-1"})
    choose_regimen(page, "r-ice")
    shot("blocked", full=False)
    choose_regimen(page, "r-hyper-cvad-a")
    page.locator("details.changes summary").click()
    page.get_by_label("Change for DOXOrubicin").fill("-20%")
    with page.expect_response(lambda r: r.url.endswith("/doses")):
        page.get_by_label("Why change DOXOrubicin").fill("LVEF 45%")
    page.locator("table.orders details").first.locator("summary").click()
    shot("doses")
    page.goto(f"/patients/{held}")
    choose_regimen(page, "hyper-cvad-a")
    shot("held")
    page.goto(f"/patients/{mrn}")
    choose_regimen(page, "r-hyper-cvad-a")
    page.get_by_role("button", name="Prepare order").click()
    order_url = page.url
    shot("order-prepared")
    sign_out(page)
    sign_in(page, "phil")
    page.get_by_role("link", name="Verification queue").click()
    shot("queue")
    page.goto(order_url)
    fields = page.locator("form[action$='/verify'] input[name^='dose_']")
    for i, dose in enumerate(TYPED):
        fields.nth(i).fill(dose)
    shot("independent-check")
    page.get_by_role("button", name="Verify").click()
    shot("order-verified")
    page.get_by_role("link", name=re.compile("^R-hyper-CVAD")).first.click()
    shot("regimen")
    page.goto(order_url)
    page.get_by_label("Labs checked today").fill("ANC 2.1, platelets 180")
    page.get_by_role("button", name="Release").click()
    page.goto(f"/patients/{mrn}/edit")
    page.get_by_label("Weight", exact=True).fill("60 kg")
    page.get_by_role("button", name="Save patient").click()
    page.goto(order_url)
    shot("order-out-of-date")
    page.goto("/queue?state=released")
    shot("queue-released")
    page.goto(f"/patients/{mrn}/plan")
    shot("plan")
    page.get_by_role("link", name="Patients").click()
    shot("patients", full=False)
    page.goto(f"/audit?patient={mrn}")
    shot("audit")
    sign_out(page)


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        db_url = f"sqlite:///{Path(folder) / 'record.sqlite3'}"
        os.environ["CHEMO_ORDERS_KEY_FILE"] = str(Path(folder) / "audit.key")  # this record's own key and head
        add_staff(db_url)
        process, url = start_server(db_url, Path(folder) / "server.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                for width, height in WIDTHS.items():
                    context = browser.new_context(base_url=url, viewport={"width": width, "height": height})
                    context.set_default_timeout(30_000)
                    walk(context.new_page(), width)
                    context.close()
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
