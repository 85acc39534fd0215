"""Regenerate docs/rules.md and docs/coverage.md from the code and data (a test fails when stale)."""

from pathlib import Path

from chemo_orders.coverage import coverage_markdown
from chemo_orders.rules import rules_markdown

docs = Path(__file__).resolve().parents[1] / "docs"
for name, text in (("rules.md", rules_markdown()), ("coverage.md", coverage_markdown())):
    (docs / name).write_text(text, encoding="utf-8")
    print(f"wrote {docs / name}")
