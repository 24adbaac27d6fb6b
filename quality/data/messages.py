"""Small phrases shared by the messages that name the columns at fault."""

from __future__ import annotations


def column_list(names: list) -> str:
    """'column 'a' is' / 'columns 'a', 'b' are', to open a message about the named columns."""
    listed = ", ".join(repr(n) for n in names)
    return f"column {listed} is" if len(names) == 1 else f"columns {listed} are"


def them(names: list) -> str:
    return "it" if len(names) == 1 else "them"
