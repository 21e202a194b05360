"""The record's refusal: one French message tied to one form field."""

from __future__ import annotations


class VisitError(ValueError):
    """A visit refused for a reason tied to one form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
