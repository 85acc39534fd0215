"""CAR001: heart function before an anthracycline — cited LVEF bands, and LVEF not given."""

from __future__ import annotations

from collections.abc import Iterator

from ..drugs import drug_table
from .base import Context, Finding, Rule
from .organ import BandRule
from .sources import ASCO_ONS_2016


class CardiacFunction(BandRule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        yield from super().check(ctx)
        groups = drug_table().groups
        anthracyclines = groups["anthracycline"].drugs if "anthracycline" in groups else ()
        ordered = sorted({o.drug for o in ctx.calculation.orders if o.drug in anthracyclines})
        if ordered and ctx.patient.labs.lvef_percent is None:  # children too (design §11.3)
            yield self.finding(
                "warn",
                f"{', '.join(ordered)}: LVEF not given (labs.lvef_percent); cardiac function is assessed before "
                "anthracyclines",
            )


CAR001: Rule = CardiacFunction(
    code="CAR001",
    name="cardiac-function",
    severity="warn / hold / block",
    what="Applies the cited LVEF bands of modifications.yaml to anthracyclines (hold below the threshold where a "
    "pharmacist and cardio-oncology decide; block where the source contraindicates) and warns when an adult or a "
    "child is ordered an anthracycline with no LVEF recorded.",
    why="Anthracycline cardiomyopathy is dose-related and irreversible; giving it to a patient whose left "
    "ventricular function is already reduced risks heart failure.",
    example="Doxorubicin with LVEF 30 %; hyper-CVAD course A with no LVEF recorded.",
    use_instead="Record LVEF (echocardiogram or MUGA) before the first anthracycline; below the threshold, a "
    "non-anthracycline regimen or cardio-oncology review.",
    references=(ASCO_ONS_2016, drug_table().sources["doxorubicin-us-label"]),
)
