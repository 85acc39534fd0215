"""From a patient and a regimen to orders: body measurements, each dose, caps and rounding.

Every number that appears in an order's arithmetic is the number used: BSA is rounded to
3 decimals and GFR to 1 decimal *before* they multiply a dose, so a pharmacist who redoes
``375 mg/m² × 1.972 m²`` by hand gets exactly the calculated dose printed beside it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache
from typing import Any, Literal, cast

import pint

from .body import (
    adjusted_body_weight,
    bmi,
    bsa,
    cockcroft_gault,
    ideal_body_weight,
)
from .patient import Patient, creatinine_mg_dl
from .plausibility import check_record
from .regimen import Alternative, Basis, DoseLine, Regimen, dose_basis
from .rounding import RoundingPolicy, round_dose
from .units import (
    AUC_UNIT,
    DAY,
    DIM_TIME,
    KG,
    M2,
    MCG,
    MG,
    MG_PER_DL,
    ML_PER_MIN,
    UNITS,
    Q,
    convert,
    format_number,
    format_quantity,
    magnitude_in,
    quantity,
    time_power,
    unit_powers,
    ureg,
)

ADULT_AGE = 18
# FDA/CDER, Carboplatin dosing (Oct 2010): cap GFR at 125 mL/min, so max dose = AUC × 150 mg.
GFR_CAP = 125 * ML_PER_MIN
# NCCN Chemotherapy Order Templates, Appendix B "Carboplatin dosing in adults": consider a
# minimum SCr of 0.7 mg/dL and adjusted body weight when BMI >= 25 (standards.md §1.5).
NCCN_SCR_FLOOR = 0.7 * MG_PER_DL
NCCN_ADJUSTED_WEIGHT_BMI = 25.0


@dataclass(frozen=True)
class Options:
    """How to calculate: chosen on the command line, printed on the order when not default."""

    on: dt.date
    cycle: int = 1
    bsa_formula: str = "mosteller"
    bsa_cap: Q | None = None
    carboplatin_weight: Literal["nccn", "actual"] = "nccn"
    scr_floor: Q | None = NCCN_SCR_FLOOR
    policy: RoundingPolicy | None = None


def _round(value: float, places: int) -> float:
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Body:
    """The patient's measurements on the calculation date, as used by every dose."""

    age_years: int
    height: Q
    weight: Q
    bsa: Q  # rounded to 3 decimals; after any explicit cap
    bsa_cap_note: str
    bsa_formula: str
    bmi: float
    ideal_weight: Q | None
    creatinine: Q | None  # mg/dL
    crcl: Q | None  # Cockcroft-Gault, actual weight, measured SCr; adults only
    crcl_note: str

    @property
    def adult(self) -> bool:
        return self.age_years >= ADULT_AGE


def measure(patient: Patient, options: Options) -> Body:
    """Age, BSA, BMI, ideal weight and creatinine clearance for one patient and date."""
    age = patient.age_years(options.on)
    patient.check_dates(options.on)
    check_record(patient, age)
    raw_bsa = _round(bsa(patient.height, patient.weight, options.bsa_formula).magnitude, 3)
    used_bsa, cap_note = raw_bsa, ""
    if options.bsa_cap is not None and raw_bsa > magnitude_in(options.bsa_cap, M2):
        used_bsa = float(magnitude_in(options.bsa_cap, M2))
        cap_note = f"BSA capped at {format_number(used_bsa)} m² (calculated {format_number(raw_bsa)} m²) per --bsa-cap"
    creatinine = creatinine_mg_dl(patient.serum_creatinine) if patient.serum_creatinine is not None else None
    crcl, note = None, ""
    if creatinine is None:
        note = "no serum creatinine given"
    elif age < ADULT_AGE:
        note = "Cockcroft-Gault is not validated under 18 years"
    else:
        crcl = quantity(_round(cockcroft_gault(age, patient.weight, creatinine, patient.sex).magnitude, 1), ML_PER_MIN)
        note = "Cockcroft-Gault, actual body weight"
    return Body(
        age_years=age,
        height=patient.height,
        weight=patient.weight,
        bsa=quantity(used_bsa, M2),
        bsa_cap_note=cap_note,
        bsa_formula=options.bsa_formula,
        bmi=bmi(patient.height, patient.weight),
        ideal_weight=ideal_body_weight(patient.height, patient.sex),
        creatinine=creatinine,
        crcl=crcl,
        crcl_note=note,
    )


@dataclass(frozen=True)
class Gfr:
    value: Q  # rounded, before the FDA cap
    used: Q  # after the FDA cap
    explanation: str


class MissingInput(Exception):
    """A dose cannot be calculated for this patient: a measurement is missing (REN001) or the
    regimen file defines no dose for the patient (DOS004: held on that line, the rest of the
    order calculated), and guessing is not an option."""

    def __init__(self, drug: str, needs: str, rule: str = "REN001", line: DoseLine | None = None) -> None:
        super().__init__(f"{drug}: {needs}")
        self.drug = drug
        self.needs = needs
        self.rule = rule
        self.line = line


def carboplatin_gfr(patient: Patient, body: Body, options: Options) -> Gfr:
    """The GFR for Calvert: measured if given, else Cockcroft-Gault with NCCN conventions."""
    if patient.measured_gfr is not None:
        value = quantity(_round(magnitude_in(patient.measured_gfr, ML_PER_MIN), 1), ML_PER_MIN)
        explanation = f"measured GFR {format_quantity(value)}"
    else:
        if body.creatinine is None:
            raise MissingInput("carboplatin", "serum creatinine (or measured GFR) is required for AUC dosing")
        if not body.adult:
            raise MissingInput("carboplatin", "a measured GFR is required: Cockcroft-Gault is not validated under 18")
        weight, weight_text = convert(patient.weight, KG), "actual weight"
        if (
            options.carboplatin_weight == "nccn"
            and body.bmi >= NCCN_ADJUSTED_WEIGHT_BMI
            and body.ideal_weight is not None
            and weight.magnitude > magnitude_in(body.ideal_weight, KG)
        ):
            adjusted = quantity(_round(adjusted_body_weight(weight, body.ideal_weight).magnitude, 1), KG)
            weight = adjusted
            weight_text = f"adjusted weight (BMI {format_number(body.bmi, 1)} ≥ 25; NCCN)"
        scr, scr_text = body.creatinine, "SCr"
        if options.scr_floor is not None and scr.magnitude < magnitude_in(options.scr_floor, MG_PER_DL):
            scr = convert(options.scr_floor, MG_PER_DL)
            scr_text = f"SCr floor (measured {format_quantity(body.creatinine)})"
        raw = cockcroft_gault(body.age_years, weight, scr, patient.sex).magnitude
        value = quantity(_round(raw, 1), ML_PER_MIN)
        female = " × 0.85" if patient.sex == "female" else ""
        explanation = (
            f"Cockcroft-Gault (140 − {body.age_years} y) × {format_quantity(weight)} {weight_text}"
            f" / (72 × {format_quantity(scr)} {scr_text}){female} = {format_quantity(value)}"
        )
    used = value
    if value.magnitude > GFR_CAP.magnitude:  # both mL/min
        used = GFR_CAP
        explanation += f"; capped at {format_quantity(GFR_CAP)} (FDA 2010)"
    return Gfr(value, used, explanation)


@dataclass(frozen=True)
class Modification:
    """What an organ-function band did to one order (:mod:`chemo_orders.modifications`)."""

    rule: str
    percent: float
    band: str
    source: str
    full: Q  # the final dose before the modification


@dataclass(frozen=True)
class Change:
    """A prescriber's or pharmacist's change applied to one order (:mod:`chemo_orders.changes`)."""

    requested: str  # as asked: "-20%" or "600 mg"
    reason: str
    percent: float  # the changed dose as a percent of ``before``
    before: Q  # the final dose before the change (after any organ-function band)
    standard: Q  # the full, unmodified dose


@dataclass(frozen=True)
class Order:
    """One calculated drug line of an order set."""

    line: DoseLine
    basis: Basis
    dose: Q  # per basis, after any alternative
    alternative: Alternative | None
    calculated: Q
    final: Q
    cap: Q | None
    capped: bool
    rounded: bool
    calculation: str
    administrations: int
    notes: tuple[str, ...] = field(default=())
    modification: Modification | None = None  # a renal/hepatic/cardiac band applied to final
    change: Change | None = None  # a prescriber's change applied after the bands (DOS003)
    per_administration: Q | None = None  # a divided daily dose: each administration's amount

    @property
    def drug(self) -> str:
        return self.line.drug

    @property
    def course_total(self) -> Q:
        """The amount given in one cycle: per administration × administrations, or a per-day
        dose (a continuous infusion in mcg/day) × its days. Worked out only when asked for."""
        final = self.final
        if time_power(final) < 0:
            return quantity(final.magnitude * len(self.line.days), _times_day(final.units))
        return quantity(final.magnitude * self.administrations, final.units)

    def scaled(self, factor: float, options: Options) -> Q:
        """The final dose × ``factor``, rounded the way this line is rounded: one arithmetic for a
        band's percent, a prescriber's change and a line that follows another (mesna)."""
        value = quantity(self.final.magnitude * factor, self.final.units)
        return round_dose(self.drug, value, self.cap, options.policy).value if self.line.round else value

    @property
    def expected(self) -> Q:
        """The calculated dose after any cap, before rounding: what a verifier recalculates.

        A dose deliberately changed — by an organ-function band or a prescriber's change with
        its reason — is expected as ordered: that change is the recalculation's result too.
        """
        if self.modification is not None or self.change is not None:
            return self.final
        if self.cap is not None and self.calculated > self.cap:
            return self.cap.to(self.calculated.units)
        return self.calculated

    @property
    def maximum(self) -> Q | None:
        """The hard ceiling: the line's cap, or AUC × 150 mg for carboplatin (FDA GFR cap)."""
        if self.basis == "auc":
            fda = cast(Q, self.dose.to(AUC_UNIT).magnitude * (GFR_CAP.magnitude + 25) * MG)
            return min(fda, self.cap.to(MG)) if self.cap is not None else fda
        return self.cap


def _result_unit(dose: Q) -> pint.Unit:
    """mg for g/mg doses, mcg for mcg doses, units for units; per day stays per day."""
    return _result_unit_of(dose._units)


@cache
def _result_unit_of(dose_units: Any) -> pint.Unit:
    units = unit_powers(quantity(1, dose_units))
    numerator = next(name for name, power in units.items() if power > 0)
    base = {"microgram": MCG, "biological_unit": UNITS}.get(numerator, MG)
    per_time = [name for name, power in units.items() if power < 0 and ureg.Unit(name).dimensionality == DIM_TIME]
    return cast(pint.Unit, base / ureg.Unit(per_time[0]) if per_time else base)


def calculate(line: DoseLine, patient: Patient, body: Body, options: Options) -> Order:
    """One order line: base dose x basis, cap, rounding, with the arithmetic in words."""
    if line.missing is not None:
        raise MissingInput(line.drug, f"not in the library: {line.missing}", "DOS004", line)
    dose, cap, alternative = line.dose_for(patient, body.age_years)
    if dose is None:
        defined = "; ".join(a.when.describe() for a in line.alternatives)
        raise MissingInput(
            line.drug, f"the regimen defines no dose for this patient (only for: {defined})", "DOS004", line
        )
    basis = dose_basis(dose)
    notes: list[str] = []
    if alternative is not None:
        notes.append(
            f"{format_quantity(dose)} for {alternative.when.describe()}"
            + (f": {alternative.note}" if alternative.note else "")
        )
    capped = False
    if basis == "auc":
        gfr = carboplatin_gfr(patient, body, options)
        target = convert(dose, AUC_UNIT).magnitude
        calculated = quantity(target * (gfr.used.magnitude + 25), MG)
        text = f"AUC {format_number(target)} × ({format_quantity(gfr.used)} + 25) = {format_quantity(calculated)}"
        notes.append(f"GFR: {gfr.explanation}")
        capped = gfr.used != gfr.value
    else:
        unit = _result_unit(dose)
        if basis == "bsa":
            calculated = quantity(dose.magnitude * _factor(dose._units, M2, unit) * body.bsa.magnitude, unit)
            text = f"{format_quantity(dose)} × {format_quantity(body.bsa)} = {format_quantity(calculated)}"
            if body.bsa_cap_note:
                notes.append(body.bsa_cap_note)
        elif basis == "weight":
            calculated = quantity(
                dose.magnitude * _factor(dose._units, KG, unit) * magnitude_in(patient.weight, KG), unit
            )
            text = f"{format_quantity(dose)} × {format_quantity(patient.weight.to(KG))} = {format_quantity(calculated)}"
        else:
            calculated = convert(dose, unit)
            text = f"{format_quantity(dose)} flat dose"
    after_cap = calculated
    cap_in_units = convert(cap, calculated._units) if cap is not None else None
    if cap_in_units is not None and calculated.magnitude > cap_in_units.magnitude:
        after_cap = cap_in_units
        capped = True
        text += f"; capped at {format_quantity(after_cap)}"
    if line.round:
        rounded = round_dose(line.drug, after_cap, cap, options.policy)
        final, rounding_note = rounded.value, rounded.note
    else:
        final, rounding_note = after_cap, ""
    made = _presentation(line, after_cap, cap)
    per_administration = None
    if made is not None:
        amount, how = made
        final = amount if amount is not None else final
        rounding_note = how if amount is not None else "; ".join(n for n in (rounding_note, how) if n)
    if line.divided is not None:
        per_administration, rounding_note = _divided(line, after_cap)
        final = quantity(per_administration.magnitude * line.divided, after_cap.units)
    if rounding_note:
        text += f"; {rounding_note}"
    administrations = line.doses if line.doses is not None else len(line.days)
    if line.every is not None:
        text += f"; every {format_quantity(line.every)} × {line.doses} doses"
    return Order(
        line=line,
        basis=basis,
        dose=dose,
        alternative=alternative,
        calculated=calculated,
        final=final,
        cap=cap,
        capped=capped,
        rounded=final.magnitude != after_cap.magnitude,
        calculation=text,
        administrations=administrations,
        notes=tuple(notes),
        per_administration=per_administration,
    )


def _amount_per_dose(value: Q) -> Q:
    """A per-day dose (mg/day, given once a day) as the amount given (mg), the unit tablets
    and syringes are labelled in."""
    return cast(Q, value * DAY) if time_power(value) < 0 else value


def _presentation(line: DoseLine, amount: Q, cap: Q | None) -> tuple[Q | None, str] | None:
    """An oral dose made of its tablets, or the nearest whole syringe where the source says so;
    None when the drug has no such presentation (then the usual rounding stands); no amount
    with a note when its tablets cannot make the dose (the usual rounding stands, said)."""
    if line.divided is not None or (line.presentation is None and line.route != "PO"):
        return None  # only oral lines and "nearest whole syringe" lines are made of presentations
    from .products import describe, make_from_tablets, nearest_single, product_table
    from .rounding import HOPA_MAX_DEVIATION_PERCENT

    table = product_table()
    given = _amount_per_dose(amount)
    # A dose the source fixes (round: false) is only written out in tablets, never moved.
    limit_percent = HOPA_MAX_DEVIATION_PERCENT if line.round else 0.0
    if line.presentation == "nearest":
        units = table.presentations(line.drug, line.route, ("syringe", "vial"))
        made = nearest_single(given, units)
    elif line.route == "PO":
        units = table.presentations(line.drug, line.route, ("tablet", "capsule"))
        if not units:
            return None
        made = make_from_tablets(given, units, limit_percent)
        if made is None:
            within = f"within {limit_percent:g}%" if limit_percent else "exactly"
            return None, f"no combination of its tablets makes it {within}: a pharmacist decides"
    else:
        return None
    if made is None or (cap is not None and made.amount > convert(_amount_per_dose(cap), made.amount._units)):
        return None
    final = quantity(convert(made.amount, given._units).magnitude, amount._units)
    return final, describe(made, given)


TIMES_DAILY = {2: "twice daily", 3: "three times daily", 4: "four times daily"}


def _divided(line: DoseLine, daily: Q) -> tuple[Q, str]:
    """Each of the day's administrations (an amount, mg), made of tablets where it is oral."""
    from .products import describe, make_from_tablets, product_table
    from .rounding import HOPA_MAX_DEVIATION_PERCENT, round_dose

    assert line.divided is not None
    per_day = _amount_per_dose(daily)
    each = quantity(per_day.magnitude / line.divided, per_day.units)
    times = TIMES_DAILY.get(line.divided, f"{line.divided} times daily")
    units = product_table().presentations(line.drug, line.route, ("tablet", "capsule")) if line.route == "PO" else ()
    made = make_from_tablets(each, units, HOPA_MAX_DEVIATION_PERCENT) if units else None
    if made is not None:
        amount, how = made.amount, f"; {describe(made, each)}"
    elif line.round:
        amount, how = round_dose(line.drug, each, None, None).value, ""
    else:
        amount, how = each, ""
    total = quantity(amount.magnitude * line.divided, amount.units)
    return amount, f"divided {times}: {format_quantity(amount)} {times} = {format_quantity(total)} a day{how}"


@cache
def _times_day(per_day: pint.Unit) -> pint.Unit:
    """mcg/day -> mcg: the unit of a per-day dose summed over days."""
    return cast(pint.Unit, per_day * DAY)


@lru_cache(maxsize=1024)
def _factor(dose_units: Any, basis_unit: pint.Unit, result_unit: pint.Unit) -> float:
    """The number that turns (dose per basis unit) × (basis in basis units) into the result unit.

    Worked out with pint once per unit combination; the hot path then multiplies plain
    numbers and attaches the unit, instead of asking pint to simplify units on every dose.
    Keyed by the dose's units container (a dose's ``.units`` is a new Unit object on every
    access); bounded, since regimen files a user gives bring their own units.
    """
    return float((quantity(1, dose_units) * basis_unit).to(result_unit).magnitude)


@dataclass(frozen=True)
class Calculation:
    """Every order of one cycle, the measurements behind them, and what could not be dosed."""

    body: Body
    orders: tuple[Order, ...]
    missing: tuple[MissingInput, ...]


def calculate_regimen(patient: Patient, regimen: Regimen, options: Options) -> Calculation:
    body = measure(patient, options)
    orders: list[Order] = []
    missing: list[MissingInput] = []
    for line in regimen.lines_for_cycle(options.cycle):
        if not line.applies_to(patient, body.age_years):
            continue
        try:
            orders.append(calculate(line, patient, body, options))
        except MissingInput as gap:
            missing.append(gap)
    return Calculation(body, tuple(orders), tuple(missing))
