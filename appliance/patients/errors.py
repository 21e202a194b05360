"""A visit's refusal: one French message tied to one form field (the shape of ``appliance.refusal``)."""

from __future__ import annotations

from appliance.refusal import FieldRefusal


class VisitError(FieldRefusal):
    """A visit refused for a reason tied to one form field."""
