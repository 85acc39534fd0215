"""Regenerate docs/rules.md from the rule definitions (a test fails when it is stale)."""

from pathlib import Path

from chemo_orders.rules import rules_markdown

target = Path(__file__).resolve().parents[1] / "docs" / "rules.md"
target.write_text(rules_markdown(), encoding="utf-8")
print(f"wrote {target}")
