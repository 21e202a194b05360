"""A write refused for a reason staff must see: one French message tied to the form field it concerns.

The one shape of every area's refusal (the record's, a visit's, a call's, a stock move's, the health
area's population): each area raises its own subclass, so a page catches exactly what its service may
refuse, and shows ``message`` next to ``field`` the same way everywhere.
"""

from __future__ import annotations


class FieldRefusal(ValueError):
    """A refused write: ``message`` (French, for staff) belongs next to the form field ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
