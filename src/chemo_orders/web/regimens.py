"""A regimen as the library holds it, for the verifier's independent check (issue 22, item 5).

The verifier calculates each dose themselves from the measurements and the regimen: this page
is the regimen side of that, read-only, from the same library file the engine reads (its
content hash shown, so the pharmacist can see it is the version the order pinned).
"""

from __future__ import annotations

from starlette.responses import Response

from ..drugs import drug_table
from ..errors import InputError
from ..regimen import ROUTE_DISPLAY, load_regimen, regimen_paths
from ..report import days_text
from ..units import format_quantity
from .pages import Ctx, render


def regimen_page(ctx: Ctx) -> Response:
    from ..render import regimen_hash

    regimen_id = ctx.path_param("regimen_id")
    if regimen_id not in regimen_paths():
        raise InputError("REGIMEN", regimen_id, "no such regimen")
    regimen = load_regimen(regimen_id)
    table = drug_table()
    lines = [
        {
            "drug": table.display_name(line.drug),
            "dose": format_quantity(line.dose) if line.dose is not None else "see alternatives",
            "cap": format_quantity(line.cap) if line.cap is not None else "",
            "route": ROUTE_DISPLAY[line.route],
            "days": days_text(tuple(sorted(line.days))),
            "note": line.note or "",
            "alternatives": [f"{a.when.describe()}: {format_quantity(a.dose)}" for a in line.alternatives],
        }
        for line in regimen.drugs
    ]
    return render(
        ctx,
        "regimen.html.j2",
        title=regimen.name,
        regimen=regimen,
        lines=lines,
        cycle_length=format_quantity(regimen.cycle_length) if regimen.cycle_length is not None else regimen.cycle_note,
        content_hash=regimen_hash(regimen.id)[:16],
    )
