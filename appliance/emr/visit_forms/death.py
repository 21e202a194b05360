"""A death, recorded as a vital event: date, place, cause as staff know it (the category is
computed by the record from the age and any pregnancy)."""

from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional

from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.visit_forms.base import VisitForm, notes_field, visit_date_field
from appliance.emr.visit_forms.delivery import PLACES
from appliance.patients.models import Death


class DeathForm(VisitForm):
    MODEL = Death
    COPIED = ("place", "cause", "incidental")

    visit_date = visit_date_field(_l("Date du décès"))
    place = SelectField(_l("Lieu du décès"), choices=PLACES)
    cause = StringField(_l("Cause (telle que connue)"), validators=[Optional(), Length(max=200)])
    incidental = BooleanField(_l("Cause accidentelle ou fortuite (accident, violence)"))
    notes = notes_field()
