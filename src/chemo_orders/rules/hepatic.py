"""HEP001: liver function against the cited bilirubin and AST bands of each drug."""

from __future__ import annotations

from .base import Rule
from .organ import BandRule
from .sources import ASCO_ONS_2016

HEP001: Rule = BandRule(
    code="HEP001",
    name="hepatic-function",
    severity="warn / hold / block",
    what="Applies the cited per-drug hepatic bands of modifications.yaml (total bilirubin, AST; in absolute units "
    "or multiples of the laboratory's upper limit of normal, labs.bilirubin_uln / labs.ast_uln): reductions are "
    "applied to the final dose and shown; 'hold' stops the order until acknowledged; 'contraindicated' blocks. "
    "Warns when a drug with hepatic bands is ordered without the lab they need.",
    why="Anthracyclines, vinca alkaloids and inotuzumab are cleared by the liver; at high bilirubin their exposure "
    "and toxicity (mucositis, myelosuppression, neurotoxicity, veno-occlusive disease) rise sharply.",
    example="Doxorubicin in hyper-CVAD with bilirubin 5.2 mg/dL (contraindicated); 2 mg/dL (50 %).",
    use_instead="Give the modified dose, or keep the full dose only with --acknowledge HEP001 --reason TEXT; "
    "record bilirubin (and the laboratory's ULN) before every cycle.",
    references=(ASCO_ONS_2016,),
)
