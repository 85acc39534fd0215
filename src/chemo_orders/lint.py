"""``chemo-orders lint``: refuse a regimen file that is unsafe or unsourced.

Schema problems come from the regimen model itself (one place for what a valid file is);
this module adds the clinical checks a reviewer would make, naming file, field and problem.
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputError
from .regimen import Regimen, load_regimen_file, regimen_paths
from .rules.route import intrathecal_problem, vinca_problem
from .units import M2, MG

# High-dose methotrexate, as the project defines it for the linter (issue 3): >= 500 mg/m²
# must come with leucovorin rescue (leucovorin rescue is mandatory with HD-MTX: Thomas 2010,
# methotrexate label).
HIGH_DOSE_METHOTREXATE = 500 * MG / M2


def clinical_problems(regimen: Regimen) -> list[tuple[str, str]]:
    """(field path, problem) pairs for a regimen that parsed."""
    problems: list[tuple[str, str]] = []
    drugs = {line.drug for line in regimen.drugs}
    for index, line in enumerate(regimen.drugs):
        where = f"drugs.{index}"
        for problem in (vinca_problem(line), intrathecal_problem(line)):
            if problem:
                problems.append((f"{where}.route", problem))
        if line.drug == "ifosfamide" and "mesna" not in drugs:
            problems.append((f"{where}.drug", "ifosfamide without mesna (hemorrhagic cystitis)"))
        doses = [line.dose] if line.dose is not None else []
        doses += [alt.dose for alt in line.alternatives]
        if (
            line.drug == "methotrexate"
            and line.route != "intrathecal"
            and "leucovorin" not in drugs
            and any(
                d.dimensionality == HIGH_DOSE_METHOTREXATE.dimensionality and d >= HIGH_DOSE_METHOTREXATE for d in doses
            )
        ):
            problems.append((f"{where}.dose", "high-dose methotrexate (≥ 500 mg/m²) without leucovorin rescue"))
    if regimen.cycles is not None and regimen.cycle_numbers is not None and max(regimen.cycle_numbers) > regimen.cycles:
        problems.append(("cycle_numbers", f"beyond the {regimen.cycles} cycles"))
    return problems


def lint_paths(paths: list[Path]) -> list[str]:
    """Every problem in the given files (default: the bundled library), one line each."""
    files: list[Path] = []
    for path in paths or [p for p in regimen_paths().values()]:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in files:
        try:
            regimen = load_regimen_file(path)
        except InputError as error:
            problems.append(error.located(str(path)).message if not error.source else error.message)
            continue
        if regimen.id in seen:
            problems.append(f"{path}: id: duplicate of {seen[regimen.id]} (got {regimen.id!r})")
        seen[regimen.id] = path
        if path.stem != regimen.id:
            problems.append(f"{path}: id: file name must be <id>.yaml (got {regimen.id!r})")
        problems.extend(f"{path}: {field}: {problem}" for field, problem in clinical_problems(regimen))
    return problems
