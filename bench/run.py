"""Benchmarks (design §8, issue 7). Not part of the test suite: speed is measured, never asserted.

Run:  .venv/bin/python bench/run.py [--quick] [--calc]
Prints one table: each figure's median, min and max over repeated runs, and the ratios
measured side by side in the same run. ``--calc`` measures only the calculation (the floor,
cold ``calc`` and the in-process order set), without weasyprint.

Cold processes run as an installed tool runs: with compiled bytecode. Each child gets a
bytecode cache of this run's own (``PYTHONPYCACHEPREFIX``), filled by one untimed run, so
an environment with ``PYTHONDONTWRITEBYTECODE`` set does not charge every process for
compiling its modules (which weighs most on the process importing the most code). The floor
and ``calc`` are timed in turn, run after run, so that a load arriving on a shared machine
falls on both; CPU time (user + system, of the child) is reported beside wall time because
it is less disturbed by other processes on the cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PATIENT = ROOT / "samples" / "patients" / "relapsed-dlbcl.yaml"


def timed(run: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


BYTECODE = tempfile.TemporaryDirectory(prefix="chemo-orders-bench-pyc-")
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {
    "PYTHONPYCACHEPREFIX": BYTECODE.name
}


def process(*args: str) -> Callable[[], object]:
    return lambda: subprocess.run([PYTHON, *args], check=True, capture_output=True, env=CHILD_ENV)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def side_by_side(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and CPU seconds of each process, the processes run in turn ``repeat`` times after
    one untimed run each (which fills the bytecode cache)."""
    for run in runs.values():
        run()
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            cpu, start = children_cpu(), time.perf_counter()
            run()
            times[name][0].append(time.perf_counter() - start)
            times[name][1].append(children_cpu() - cpu)
    return times


FLOOR_IMPORT = "import pint, pydantic, yaml; pint.UnitRegistry(cache_folder=':auto:')"
FLOOR_MODELS = "import pint, yaml; from pydantic import BaseModel; pint.UnitRegistry(cache_folder=':auto:')"
# What validating any input with pydantic costs before a line of this project runs: one model
# of one field defined and validated (pydantic builds its class machinery and a validator).
FLOOR_VALIDATED = (
    "import pint, yaml; from pydantic import BaseModel; pint.UnitRegistry(cache_folder=':auto:')\n"
    "class One(BaseModel):\n    x: int\n"
    "One.model_validate({'x': 1})"
)
CALC = ["-m", "chemo_orders.cli", "calc", str(PATIENT), "--regimen", "r-ice", "--json"]


def in_process_calc(repeat: int) -> list[float]:
    from chemo_orders.dosing import Options
    from chemo_orders.orderset import build
    from chemo_orders.patient import load_patient
    from chemo_orders.regimen import load_regimen

    patient, regimen = load_patient(PATIENT), load_regimen("r-ice")
    options = Options(on=dt.date(2026, 11, 22))
    build(patient, regimen, options)  # warm caches (drug and renal tables)
    inner = 200
    runs = timed(lambda: [build(patient, regimen, options) for _ in range(inner)], repeat)
    return [t / inner for t in runs]


def render_fixture() -> tuple[str, object]:
    from chemo_orders.dosing import Options
    from chemo_orders.orderset import build
    from chemo_orders.patient import load_patient
    from chemo_orders.regimen import load_regimen
    from chemo_orders.render import build_view, render_html

    order_set = build(load_patient(PATIENT), load_regimen("r-ice"), Options(on=dt.date(2026, 11, 22)))
    return render_html(build_view(order_set)), order_set


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--calc", action="store_true", help="only the calculation figures (no weasyprint)")
    arguments = parser.parse_args()
    n = 3 if arguments.quick else 10
    rows: list[tuple[str, list[float], str]] = []

    cold = side_by_side(
        {
            "floor": process("-c", FLOOR_IMPORT),
            "models": process("-c", FLOOR_MODELS),
            "validated": process("-c", FLOOR_VALIDATED),
            "calc": process(*CALC),
        },
        n,
    )
    rows += [
        ("floor: python + import pint, pydantic, yaml + cached registry", cold["floor"][0], "s"),
        ("floor with pydantic.BaseModel imported", cold["models"][0], "s"),
        ("calc --json, cold process (R-ICE)", cold["calc"][0], "s"),
        ("floor, CPU time", cold["floor"][1], "s"),
        ("calc --json, cold process, CPU time", cold["calc"][1], "s"),
    ]

    per_order = in_process_calc(n)
    rows.append(("one order calculation in-process (R-ICE, all rules)", [t * 1000 for t in per_order], "ms"))
    rows.append(("floor with one pydantic model defined and validated", cold["validated"][0], "s"))
    if arguments.calc:
        print_table(rows)
        print_calc_ratios(rows)
        return

    html, order_set = render_fixture()
    import weasyprint

    from chemo_orders.pdf import _fetcher_class, templates_dir
    from chemo_orders.render import pdf_bytes

    root = templates_dir()

    def weasy_alone() -> object:
        return weasyprint.HTML(string=html, base_url=str(root) + "/", url_fetcher=_fetcher_class()(root)).write_pdf(
            pdf_variant="pdf/a-3b"
        )

    weasy_alone()
    pdf_bytes(html, order_set)  # type: ignore[arg-type]
    warm_weasy = timed(weasy_alone, n)
    warm_ours = timed(lambda: pdf_bytes(html, order_set), n)  # type: ignore[arg-type]
    rows += [
        ("warm render: weasyprint alone, same HTML", warm_weasy, "s"),
        ("warm render: chemo_orders.render.pdf_bytes", warm_ours, "s"),
    ]

    def rss_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20

    for _ in range(20):
        pdf_bytes(html, order_set)  # type: ignore[arg-type]
    after_20 = rss_mb()
    for _ in range(80):
        pdf_bytes(html, order_set)  # type: ignore[arg-type]
    growth = (rss_mb() - after_20) / 80 * 1024
    rows.append(("RSS growth per document, documents 21-100 in one process (KB)", [growth], "KB"))

    with tempfile.TemporaryDirectory() as tmp:
        html_file = Path(tmp) / "o.html"
        html_file.write_text(html)
        cold_weasy_code = (
            f"import weasyprint; weasyprint.HTML(filename={str(html_file)!r}, "
            f"base_url={str(root) + '/'!r}).write_pdf({str(Path(tmp) / 'w.pdf')!r})"
        )
        cold_weasy = timed(process("-c", cold_weasy_code), max(3, n // 2))
        cold_render = timed(
            process(
                "-m", "chemo_orders.cli", "render", str(PATIENT), "--regimen", "r-ice", "-o", str(Path(tmp) / "r.pdf")
            ),
            max(3, n // 2),
        )
        rows += [
            ("cold process: weasyprint alone, same HTML", cold_weasy, "s"),
            ("cold process: chemo-orders render", cold_render, "s"),
        ]

        csv = Path(tmp) / "jobs.csv"
        count = 60 if n > 3 else 12
        csv.write_text("patient,regimen\n" + "".join(f"{PATIENT},r-ice\n" for _ in range(count)))
        # distinct outputs: one patient file per job
        lines = ["patient,regimen"]
        for i in range(count):
            copy = Path(tmp) / f"p{i}.yaml"
            copy.write_text(PATIENT.read_text())
            lines.append(f"{copy},r-ice")
        csv.write_text("\n".join(lines) + "\n")
        batch = ["-m", "chemo_orders.cli", "render", "--batch", str(csv), "-o", str(Path(tmp) / "out")]
        single = timed(process(*batch, "--jobs", "1"), 1)
        pooled = timed(process(*batch), 1)
        rows += [
            (f"batch of {count}: 1 worker (docs/s)", [count / t for t in single], "docs/s"),
            (f"batch of {count}: all cores (docs/s)", [count / t for t in pooled], "docs/s"),
        ]

        big = Path(tmp) / "big.csv"
        for i in range(count, 100):  # one patient file per row: a batch refuses two rows writing one PDF
            (Path(tmp) / f"p{i}.yaml").write_text(PATIENT.read_text())
        big.write_text("patient,regimen\n" + "".join(f"{Path(tmp) / f'p{i}.yaml'},r-ice\n" for i in range(100)))
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run(
            [PYTHON, "-m", "chemo_orders.cli", "render", "--batch", str(big), "-o", str(Path(tmp) / "big")],
            check=True,
            capture_output=True,
            env=CHILD_ENV,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rows.append(("peak RSS of one process, 100-order-set batch (MB)", [max(before, after) / 1024], "MB"))

    print_table(rows)
    print_calc_ratios(rows)
    med = {name: statistics.median(values) for name, values, _ in rows}
    warm = med["warm render: chemo_orders.render.pdf_bytes"] / med["warm render: weasyprint alone, same HTML"]
    cold = med["cold process: chemo-orders render"] / med["cold process: weasyprint alone, same HTML"]
    print(f"warm render / weasyprint warm          = {warm:.2f}")
    print(f"cold render / weasyprint cold          = {cold:.2f}")
    print(f"batch speed-up, all cores vs 1 worker  = {rows[-2][1][0] / rows[-3][1][0]:.2f}")


def print_table(rows: list[tuple[str, list[float], str]]) -> None:
    print(f"{'figure':62} {'median':>9} {'min':>9} {'max':>9}  unit")
    for name, values, unit in rows:
        print(f"{name:62} {statistics.median(values):9.4f} {min(values):9.4f} {max(values):9.4f}  {unit}")
    print()


def print_calc_ratios(rows: list[tuple[str, list[float], str]]) -> None:
    """The ratios of the first seven rows (the cold processes and the in-process order set)."""
    floor, models, calc, floor_cpu, calc_cpu, per_order, validated = (
        statistics.median(values) for _, values, _ in rows[:7]
    )
    print(f"calc cold / floor (import only)        = {calc / floor:.2f}")
    print(f"calc cold / floor (BaseModel imported) = {calc / models:.2f}")
    print(f"one validated model / floor            = {validated / floor:.2f}")
    print(f"calc cold / floor, CPU time            = {calc_cpu / floor_cpu:.2f}")
    print(f"orders per second in-process           = {1000 / per_order:.0f}")


if __name__ == "__main__":
    main()
