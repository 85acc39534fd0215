"""Screenshots of the workbench's main screens for docs/web.md (run after a UI change).

    .venv/bin/python scripts/web_screenshots.py

Starts ``chemo-orders serve`` on a temporary record with the test users (the browser tests'
own fixtures), walks the main screens in Debian's Chromium and writes docs/web-*.png.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from web_fixtures import CHROMIUM, CHROMIUM_ARGS, add_staff, start_server  # noqa: E402
from web_steps import LINDQVIST, RIVERA, choose_regimen, new_patient, sign_in, sign_out  # noqa: E402

DOCS = ROOT / "docs"


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        db_url = f"sqlite:///{Path(folder) / 'record.sqlite3'}"
        add_staff(db_url)
        process, url = start_server(db_url, Path(folder) / "server.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(base_url=url, viewport={"width": 1280, "height": 900})

                def shot(name: str, full: bool = True) -> None:
                    page.screenshot(path=str(DOCS / f"web-{name}.png"), full_page=full)
                    print(f"wrote docs/web-{name}.png")

                page.goto("/signin")
                shot("sign-in", full=False)
                sign_in(page, "pam")
                new_patient(page, {**LINDQVIST, "MRN": "MRN-100003"})
                page.get_by_role("link", name="New patient").click()
                page.get_by_label("Height").fill("175")
                page.get_by_role("button", name="Save patient").click()
                shot("patient-form-error")
                mrn = new_patient(page, {**RIVERA, "MRN": "MRN-100001"})
                choose_regimen(page, "r-ice")
                shot("blocked")
                choose_regimen(page, "r-hyper-cvad-a")
                page.locator("table.orders details").first.locator("summary").click()
                shot("doses")
                page.goto("/patients/MRN-100003")
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
                shot("queue", full=False)
                page.goto(order_url)
                typed = ["530 mg", "1060 mg/day", "660 mg", "2 mg", "88 mg", "40 mg", "12 mg", "100 mg"]
                fields = page.locator("form[action$='/verify'] input[name^='dose_']")
                for i, dose in enumerate(typed):
                    fields.nth(i).fill(dose)
                shot("independent-check")
                page.get_by_role("button", name="Verify").click()
                shot("order-verified")
                page.goto(f"/patients/{mrn}/plan")
                shot("plan")
                page.get_by_role("link", name="Patients").click()
                shot("patients", full=False)
                page.get_by_role("link", name="Audit log").click()
                shot("audit", full=False)
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
