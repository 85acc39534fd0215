"""REG001: a regimen the library lists but does not allow to be ordered."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Context, Finding, Rule
from .indication import indication_references
from .sources import ASCO_ONS_2016


class NotOrderable(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        regimen = ctx.regimen
        if regimen.status == "reference":
            yield self.finding(
                "block",
                f"{regimen.name} is listed for reference only, not for ordering: {regimen.reference_reason}",
                references=indication_references(regimen) or self.references,
            )
        elif regimen.status == "retired":
            yield self.finding("block", f"{regimen.name} is retired from the library")
        elif regimen.status == "draft":
            yield self.finding("hold", f"{regimen.name} is a draft that the P&T committee has not approved")


REG001: Rule = NotOrderable(
    code="REG001",
    name="regimen-not-orderable",
    severity="block / hold",
    what="Blocks a regimen whose file has status reference (known, but its doses are not confirmed by a "
    "retrievable source) or retired; holds a draft until a pharmacist acknowledges it.",
    why="A dose that no source confirms must never reach a patient; the library keeps such regimens so that "
    "`options` can name them, not so that they can be calculated.",
    example="calc for calgb-8811-induction (status reference).",
    use_instead="An active regimen from `chemo-orders options PATIENT`, or the protocol document itself.",
    references=(ASCO_ONS_2016,),
)
