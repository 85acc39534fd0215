"""``chemo-orders lint``: refuse a regimen file that is unsafe or unsourced — every problem at once.

Schema problems come from the regimen model itself (one place for what a valid file is), all
of them, not the first; this module adds the clinical checks a reviewer would make, naming
file, field and problem: drugs known to ``drugs.yaml``, doses positive and within the cited
plausible maximum for the drug, vinca and intrathecal routes, and per cycle: mesna with
ifosfamide, leucovorin with high-dose methotrexate in any basis.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from .drugs import drug_table
from .errors import InputError
from .loader import read_yaml
from .models import translate_all
from .regimen import DoseLine, Regimen, dose_basis, regimen_paths
from .rules.route import intrathecal_problem, vinca_problem
from .units import KG, M2, MG, Q, format_quantity

# High-dose methotrexate, as the project defines it for the linter (issue 3): >= 500 mg/m²
# must come with leucovorin rescue (Thomas 2010; methotrexate label). A dose written per kg
# or flat is converted with the reference adult used for normalised clearances, 1.73 m² and
# 70 kg (so 500 mg/m² is 12.4 mg/kg or 865 mg): the linter flags for review; it never doses.
HIGH_DOSE_METHOTREXATE = 500 * MG / M2
REFERENCE_BSA = 1.73 * M2
REFERENCE_WEIGHT = 70 * KG


def _doses(regimen: Regimen, index: int) -> Iterator[tuple[str, Q]]:
    yield from _line_doses(regimen.drugs[index], index)


def _line_doses(line: DoseLine, index: int) -> Iterator[tuple[str, Q]]:
    if line.dose is not None:
        yield f"drugs.{index}.dose", line.dose
    for number, alternative in enumerate(line.alternatives):
        yield f"drugs.{index}.alternatives.{number}.dose", alternative.dose


def _per_m2(dose: Q) -> Q | None:
    """A methotrexate dose as mg/m² for the high-dose test, in any basis (reference adult)."""
    basis = dose_basis(dose)
    per_m2: Q | None = None
    if basis == "bsa":
        per_m2 = dose.to(MG / M2)
    elif basis == "weight":
        per_m2 = (dose * REFERENCE_WEIGHT / REFERENCE_BSA).to(MG / M2)
    elif basis == "flat":
        per_m2 = (dose / REFERENCE_BSA).to(MG / M2)
    return per_m2


def _high_dose_methotrexate(dose: Q) -> bool:
    try:
        per_m2 = _per_m2(dose)
    except Exception:  # a per-day rate or a unit that does not convert: not a single dose
        return False
    return per_m2 is not None and per_m2 >= HIGH_DOSE_METHOTREXATE


def _cycles(regimen: Regimen) -> list[int]:
    if regimen.cycle_numbers:
        return list(regimen.cycle_numbers)
    return list(range(1, (regimen.cycles or 1) + 1))


def dose_problems(regimen: Regimen) -> Iterator[tuple[str, str]]:
    """Unknown drugs, non-positive doses and caps, doses above the drug's cited maximum."""
    return line_problems(list(enumerate(regimen.drugs)))


def line_problems(lines: list[tuple[int, DoseLine]]) -> Iterator[tuple[str, str]]:
    """The checks that need one drug line only: they still run when the file as a whole fails."""
    table = drug_table()
    for index, line in lines:
        for problem in (vinca_problem(line), intrathecal_problem(line)):
            if problem:
                yield f"drugs.{index}.route", problem
        if line.drug not in table.drugs:
            canonical = table.lookup(line.drug)
            hint = f"; write {canonical!r}" if canonical else " (add it to drugs.yaml with its sources)"
            yield f"drugs.{index}.drug", f"unknown drug {line.drug!r}{hint}"
            continue
        caps = [(f"drugs.{index}.cap", line.cap)] + [
            (f"drugs.{index}.alternatives.{n}.cap", a.cap) for n, a in enumerate(line.alternatives)
        ]
        for where, cap in caps:
            if cap is not None and cap.magnitude <= 0:
                yield where, f"cap must be positive (got {format_quantity(cap)})"
        for where, dose in _line_doses(line, index):
            if dose.magnitude <= 0:
                yield where, f"dose must be positive (got {format_quantity(dose)})"
                continue
            for bound in table.get(line.drug).plausible:
                if bound.routes and line.route not in bound.routes:
                    continue
                if _same_basis(dose, bound.max) and dose > bound.max:
                    yield (
                        where,
                        (
                            f"{format_quantity(dose)} is above the largest cited {line.drug} dose "
                            f"{format_quantity(bound.max)} ({'; '.join(table.cite(bound.source))})"
                        ),
                    )


def _same_basis(dose: Q, bound: Q) -> bool:
    try:
        return dose_basis(dose) == dose_basis(bound) and dose.dimensionality == bound.dimensionality
    except InputError:
        return False


def cycle_problems(regimen: Regimen) -> Iterator[tuple[str, str]]:
    """Rescue and protection must be ordered in every cycle that needs them."""
    for cycle in _cycles(regimen):
        lines = regimen.lines_for_cycle(cycle)
        drugs = {line.drug for line in lines}
        for line in lines:
            index = regimen.drugs.index(line)
            if line.drug == "ifosfamide" and "mesna" not in drugs:
                yield f"drugs.{index}.drug", f"ifosfamide without mesna in cycle {cycle} (hemorrhagic cystitis)"
            doses = [dose for _, dose in _doses(regimen, index)]
            if (
                line.drug == "methotrexate"
                and line.route != "intrathecal"
                and "leucovorin" not in drugs
                and any(_high_dose_methotrexate(d) for d in doses)
            ):
                yield (
                    f"drugs.{index}.dose",
                    f"high-dose methotrexate (≥ 500 mg/m², in any basis) without leucovorin rescue in cycle {cycle}",
                )


def clinical_problems(regimen: Regimen) -> list[tuple[str, str]]:
    """(field path, problem) pairs for a regimen that parsed."""
    from .coverage import coverage_problems

    problems: list[tuple[str, str]] = []
    problems.extend(dose_problems(regimen))
    problems.extend(coverage_problems(regimen))
    problems.extend(dict.fromkeys(cycle_problems(regimen)))  # one line per problem, not per cycle
    if regimen.cycles is not None and regimen.cycle_numbers is not None and max(regimen.cycle_numbers) > regimen.cycles:
        problems.append(("cycle_numbers", f"beyond the {regimen.cycles} cycles"))
    return problems


def lint_file(path: Path) -> tuple[Regimen | None, list[str]]:
    """The regimen (if it parsed) and every problem in the file, one line each."""
    try:
        data = read_yaml(path, "regimen file")
    except InputError as error:
        return None, [error.located(str(path)).message]
    if not isinstance(data, dict):
        return None, [f"{path}: (top level): expected a mapping of fields"]
    try:
        regimen = Regimen.model_validate(data)
    except ValidationError as exc:
        schema = [error.message for error in translate_all(exc, str(path))]
        return None, schema + _clinical_despite_schema(data, path, schema)
    return regimen, [f"{path}: {field}: {problem}" for field, problem in clinical_problems(regimen)]


def _clinical_despite_schema(data: dict[str, object], path: Path, reported: list[str]) -> list[str]:
    """A file that fails its schema still gets the per-line clinical checks on the lines that
    parse alone, so a reviewer sees every problem at once, not one error at a time."""
    lines: list[tuple[int, DoseLine]] = []
    raw = data.get("drugs")
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            lines.append((index, DoseLine.model_validate(item)))
        except (ValidationError, InputError, TypeError):
            continue  # its own schema problem is already reported
    found = [f"{path}: {field}: {problem}" for field, problem in line_problems(lines)]
    return [line for line in found if line not in reported]


def lint_paths(paths: list[Path]) -> list[str]:
    """Every problem in every given file (default: the bundled library), one line each."""
    files: list[Path] = []
    for path in paths or list(regimen_paths().values()):
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in files:
        regimen, found = lint_file(path)
        problems.extend(found)
        if regimen is None:
            continue
        if regimen.id in seen:
            problems.append(f"{path}: id: duplicate of {seen[regimen.id]} (got {regimen.id!r})")
        seen[regimen.id] = path
        if path.stem != regimen.id:
            problems.append(f"{path}: id: file name must be <id>.yaml (got {regimen.id!r})")
    return problems
