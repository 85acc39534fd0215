"""The order record (design §10.5): prepared, verified and released orders, users, an audit chain.

The engine stays a pure function: the record is read once, up front, into the inputs of a
calculation (what the patient already received, the weight last dosed on), and the result is
stored beside those inputs so that the order can be re-rendered and re-checked later.
"""


class Refused(Exception):
    """The record refuses an action: a blocked or held calculation, the wrong person or role,
    a transition out of order. The command line says why and exits 3."""
