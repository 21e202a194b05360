"""Form fields for clinical values: French decimal commas, hard limits and "unusual" warnings.

A value outside its hard limits is refused on its own field ("Poids : valeur impossible").
A plausible but unusual value is accepted only once the user ticks "je confirme": forms built
on ``ClinicalForm`` collect those warnings after every hard check passed. The form always
re-displays exactly what was typed.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import get_locale
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import BooleanField, DateField, SelectMultipleField, StringField
from wtforms.validators import StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from appliance.emr.i18n import lazy_gettext as _l


def number_text(value: float, spec: str = "g") -> str:
    """37.0 → "37", 61.5 → "61,5": no useless zero, and the decimal mark of the user's language."""
    text = format(value, spec)
    return text if str(get_locale() or "fr").startswith("en") else text.replace(".", ",")


class MeasureField(StringField):
    """A number typed with a comma or a point, with impossible values refused.

    ``minimum``/``maximum`` are the hard limits (a value outside can only be a typing or unit
    mistake, or dangerous); the error names the limits and the unit so the fix is obvious.
    """

    def __init__(self, label=None, validators=None, *, minimum: float, maximum: float, unit: str = "",
                 integer: bool = False, required: bool = False, hint=None, **kwargs) -> None:
        kwargs.setdefault("render_kw", {})
        kwargs["render_kw"].setdefault("inputmode", "numeric" if integer else "decimal")
        kwargs["render_kw"].setdefault("autocomplete", "off")
        super().__init__(label, validators, **kwargs)
        self.minimum, self.maximum, self.unit = minimum, maximum, unit
        self.integer, self.required, self.hint = integer, required, hint
        self.raw = ""
        self.parse_error = None

    def process_formdata(self, valuelist):
        self.raw = (valuelist[0] if valuelist else "") or ""
        text = self.raw.strip().replace(" ", "").replace(",", ".")
        self.data = None
        if not text:
            return
        try:
            number = float(text)
        except ValueError:
            self.parse_error = _l("Nombre attendu (par exemple %(example)s).",
                                  example="12" if self.integer else number_text(12.5))
            return
        if number != number or number in (float("inf"), float("-inf")):
            self.parse_error = _l("Nombre attendu.")
            return
        if self.integer:
            if not number.is_integer():
                self.parse_error = _l("Nombre entier attendu (en %(unit)s).", unit=self.unit) if self.unit \
                    else _l("Nombre entier attendu.")
                return
            number = int(number)
        self.data = number

    def _value(self) -> str:
        if self.raw:
            return self.raw
        if self.data is None:
            return ""
        return str(self.data) if self.integer else number_text(self.data)

    def pre_validate(self, form) -> None:
        if self.parse_error:
            raise StopValidation(self.parse_error)
        if self.data is None:
            if self.required:
                raise StopValidation(_l("Champ obligatoire."))
            return
        if not self.minimum <= self.data <= self.maximum:
            self.data = None  # cross-field rules never compute with an impossible value (1e308 years)
            raise StopValidation(_l("Valeur impossible : entre %(low)s et %(high)s %(unit)s.",
                                    low=number_text(self.minimum), high=number_text(self.maximum),
                                    unit=self.unit))


DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")  # the date picker's ISO, then as staff type it


def parse_date(text: str) -> dt.date | None:
    """The date in ``text`` (any of DATE_FORMATS), or None when it is none of them."""
    for pattern in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    return None


class FrenchDateField(DateField):
    """A date from the browser's date picker (ISO) or typed as jj/mm/aaaa."""

    def __init__(self, label=None, validators=None, *, required: bool = False, **kwargs) -> None:
        kwargs.setdefault("render_kw", {})
        kwargs["render_kw"].setdefault("type", "date")
        super().__init__(label, validators, format=list(DATE_FORMATS), **kwargs)
        self.required = required
        self.parse_error = None
        self.raw = ""

    def process_formdata(self, valuelist):
        self.raw = (valuelist[0] if valuelist else "") or ""
        text = self.raw.strip()
        self.data = None
        if not text:
            return
        for pattern in self.strptime_format:
            try:
                value = dt.datetime.strptime(text, pattern).date()
            except ValueError:
                continue
            if value.year < 1880:
                break
            self.data = value
            return
        self.parse_error = _l("Date invalide (jj/mm/aaaa).")

    def _value(self) -> str:
        if self.raw:
            return self.raw
        return self.data.isoformat() if self.data else ""

    def pre_validate(self, form) -> None:
        if self.parse_error:
            raise StopValidation(self.parse_error)
        if self.data is None and self.required:
            raise StopValidation(_l("Champ obligatoire."))


class CheckboxListField(SelectMultipleField):
    """Several choices as checkboxes: usable on a phone without JavaScript."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ClinicalForm(FlaskForm):
    """A form whose unusual values need an explicit confirmation before saving."""

    confirm = BooleanField(_l("Je confirme ces valeurs inhabituelles"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.warnings: list[tuple[str, object]] = []

    def add_error(self, field_name: str, message) -> None:
        field = getattr(self, field_name)
        if not isinstance(field.errors, list):
            field.errors = list(field.errors)
        if message not in field.errors:
            field.errors.append(message)

    def warn(self, field_name: str, message) -> None:
        self.warnings.append((field_name, message))

    def check(self) -> None:
        """Cross-field rules: call ``add_error`` for refusals and ``warn`` for unusual values."""

    def validate(self, extra_validators=None) -> bool:
        for field in self:  # a text field left out of a crafted post is empty, as a browser sends it
            if isinstance(field, StringField) and not isinstance(field, MeasureField) and field.data is None:
                field.data = ""
        valid = super().validate(extra_validators)
        self.warnings = []
        self.check()
        if any(field.errors for field in self):
            return False
        if self.warnings and not self.confirm.data:
            return False
        return valid

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.warnings) and not any(field.errors for field in self)

    def warned(self, field_name: str) -> list:
        return [message for name, message in self.warnings if name == field_name]


def hint_markup(text) -> Markup:
    return Markup('<small class="hint">{}</small>').format(text)
