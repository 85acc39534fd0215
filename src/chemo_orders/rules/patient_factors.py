"""PGX001, PRG001, DDI001 and HBV001: facts about the patient beyond organ function that change
what may be given — genotype, pregnancy, co-medications and hepatitis B."""

from __future__ import annotations

from collections.abc import Iterator

from ..drugs import drug_table
from ..interactions import interaction_table
from ..modifications import high_dose_drugs
from .base import Context, Finding, Rule
from .organ import BandRule
from .sources import ASCO_ONS_2016

CPIC_THIOPURINES = (
    "Relling MV, Schwab M, Whirl-Carrillo M, et al. Clinical Pharmacogenetics Implementation Consortium guideline "
    "for thiopurine dosing based on TPMT and NUDT15 genotypes: 2018 update. Clin Pharmacol Ther "
    "2019;105(5):1095-1105. PMID 30447069. doi:10.1002/cpt.1304"
)
EMBRYO_FETAL = (
    "Embryo-fetal toxicity in the US labels: methotrexate injection (Pfizer) §5.1 'methotrexate can cause "
    "embryo-fetal toxicity, including fetal death when administered to a pregnant woman' "
    "(https://www.pfizermedicalinformation.com/methotrexate-0/warnings); vincristine sulfate injection (Pfizer) "
    "'can cause fetal harm when administered to a pregnant woman' "
    "(https://www.pfizermedicalinformation.com/en-us/vincristine/warnings); Etopophos 'can cause fetal harm' "
    "(https://globalrph.com/rx-list/etopophos-drug); Besponsa 'embryo-fetal toxicity' "
    "(https://besponsa.pfizerpro.com/safety/adult-safety-data)"
)
RITUXIMAB_HBV = (
    "Rituximab and ofatumumab US boxed warning (FDA, 2013): hepatitis B virus reactivation, in some cases "
    "resulting in fulminant hepatitis, hepatic failure and death; screen all patients with HBsAg and anti-HBc "
    "before treatment (SECONDARY: https://www.hcplive.com/view/rituximab-hit-fda-warning-hbv-risk)"
)


class Pregnancy(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        if ctx.patient.pregnant is not True:
            return
        table = drug_table()
        drugs = sorted(
            {
                line.drug
                for line in ctx.regimen.drugs
                if line.role == "antineoplastic" and table.get(line.drug).role in (None, "antineoplastic")
            }
        )
        if drugs:
            yield self.finding(
                "hold",
                f"patient is pregnant; {', '.join(drugs)} can cause fetal harm: obstetric and oncology decision "
                "before any dose (trimester, alternatives)",
            )


class Interactions(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        medications = ctx.patient.medications
        if not medications:
            return
        drugs, table = drug_table(), interaction_table()
        ordered = {o.drug for o in ctx.calculation.orders} or {line.drug for line in ctx.regimen.drugs}
        high = high_dose_drugs(ctx.calculation)
        seen: set[tuple[str, str]] = set()
        for item in table.interactions:
            for drug in sorted(ordered & drugs.members(item.drug)):
                if item.high_dose and drug not in high:
                    continue
                for medication in medications:
                    if medication not in drugs.members(item.with_) or (drug, medication) in seen:
                        continue
                    seen.add((drug, medication))
                    dose = " at high dose" if item.high_dose else ""
                    yield self.finding(
                        item.severity,
                        f"{drug}{dose} with {medication} (co-medication): {item.note}",
                        drug=drug,
                        references=table.cite(item.source),
                    )


class HepatitisB(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        if ctx.patient.labs.hbsag != "positive":
            return
        table = drug_table()
        drugs = sorted({line.drug for line in ctx.regimen.drugs if line.drug in table.members("anti-cd20")})
        if drugs:
            yield self.finding(
                "hold",
                f"HBsAg positive with {', '.join(drugs)} (boxed warning: hepatitis B reactivation, fulminant "
                "hepatitis): antiviral prophylaxis and hepatology review before the dose",
                drug=drugs[0],
            )


PGX001: Rule = BandRule(
    code="PGX001",
    name="thiopurine-genotype",
    severity="hold / modified",
    what="Applies CPIC's thiopurine recommendation (pharmacogenomics.yaml) for a TPMT or NUDT15 intermediate or "
    "poor metabolizer (markers.tpmt, markers.nudt15): a single cited percent is applied to the dose and shown; "
    "where CPIC gives a range or an extreme reduction, the order is held and a pharmacist supplies the dose.",
    why="Thiopurine metabolites accumulate without TPMT or NUDT15 activity: full-dose mercaptopurine in a poor "
    "metabolizer causes life-threatening myelosuppression.",
    example="Mercaptopurine 75 mg/m²/day maintenance for a child with markers.tpmt: poor.",
    use_instead="The CPIC starting dose (--change mercaptopurine=AMOUNT --change-reason 'CPIC: ...'), then "
    "adjust to counts.",
    references=(CPIC_THIOPURINES,),
)

PRG001 = Pregnancy(
    code="PRG001",
    name="pregnancy",
    severity="hold",
    what="Holds an order with any cytotoxic drug or antibody when the patient file says pregnant: true.",
    why="Most of these drugs cause fetal harm (their labels' embryo-fetal toxicity warnings); treatment in "
    "pregnancy is possible but is a decision by trimester and drug, never a default order.",
    example="R-CHOP for a patient with pregnant: true.",
    use_instead="Obstetric and oncology review; acknowledge with the plan (--acknowledge PRG001 --reason ...).",
    references=(EMBRYO_FETAL, ASCO_ONS_2016),
)

DDI001 = Interactions(
    code="DDI001",
    name="interaction",
    severity="warn / hold",
    what="Checks the patient's co-medications (medications, canonical names from drugs.yaml) against the cited "
    "interactions of interactions.yaml: azoles and strong CYP3A4 inhibitors with vincristine and doxorubicin; "
    "proton-pump inhibitors, NSAIDs, trimethoprim-sulfamethoxazole and penicillins with high-dose methotrexate. "
    "Hold where the label says avoid; warn where it says caution or monitor.",
    why="Interactions raise exposure to the cytotoxic drug: azoles with vincristine cause severe neurotoxicity; "
    "drugs that slow methotrexate elimination cause fatal toxicity at high dose.",
    example="Hyper-CVAD course B (methotrexate 1 g/m²) for a patient taking omeprazole.",
    use_instead="Stop or switch the co-medication (e.g. an H2 blocker, an echinocandin), or acknowledge with the "
    "monitoring plan.",
    references=(ASCO_ONS_2016,),
)

HBV001 = HepatitisB(
    code="HBV001",
    name="hepatitis-b",
    severity="hold",
    what="Holds an anti-CD20 antibody (rituximab) when labs.hbsag is positive.",
    why="Anti-CD20 antibodies reactivate hepatitis B (boxed warning), sometimes with fulminant hepatitis and "
    "death; antiviral prophylaxis must start first.",
    example="R-CHOP for a patient with labs.hbsag: positive.",
    use_instead="Antiviral prophylaxis and hepatology review, then acknowledge (--acknowledge HBV001 --reason ...).",
    references=(RITUXIMAB_HBV,),
)
