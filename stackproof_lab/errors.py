"""The one error type the lab raises on purpose: its message is printed as one line, no traceback."""


class LabError(Exception):
    """A situation the operator must fix or look at; ``str(error)`` says what and where."""
