"""FHIR for hospitals (design §10.7, issue 15): regimens and order sets out, patients in.

``export`` writes a regimen as a PlanDefinition and an order set as a Bundle; ``importer``
reads a patient Bundle into the same dict a patient YAML file holds. The package imports
nothing heavy at import time: the command-line parser loads ``fhir.cli``.
"""
