"""Forms of the shell (login, password, users). Labels are lazy so they follow the user's language."""

from __future__ import annotations

from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from appliance.emr.i18n import lazy_gettext as _l
from appliance.store.models import ROLES

LANGUAGES = [("fr", "Français"), ("en", "English")]
# The role names staff read (ROLES in the store keeps the French ones, for files and the command line).
ROLE_LABELS = {
    "medecin": _l("Médecin"),
    "sage_femme": _l("Sage-femme"),
    "infirmier": _l("Infirmier·ère"),
    "matrone": _l("Matrone"),
    "agent_saisie": _l("Agent de saisie"),
    "admin": _l("Administrateur"),
}
_ROLE_OF_FRENCH_NAME = {name: code for code, name in ROLES.items()}


class LoginForm(FlaskForm):
    username = StringField(_l("Identifiant"), validators=[DataRequired(_l("Saisissez votre identifiant."))])
    password = PasswordField(_l("Mot de passe"), validators=[DataRequired(_l("Saisissez votre mot de passe."))])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Mot de passe actuel"), validators=[DataRequired(_l("Champ obligatoire."))])
    new = PasswordField(_l("Nouveau mot de passe"), validators=[DataRequired(_l("Champ obligatoire."))])
    confirm = PasswordField(
        _l("Confirmer le nouveau mot de passe"),
        validators=[DataRequired(_l("Champ obligatoire.")), EqualTo("new", _l("Les deux mots de passe diffèrent."))],
    )


class LanguageForm(FlaskForm):
    language = SelectField(_l("Langue"), choices=LANGUAGES)


def role_label(role: str) -> str:
    """The role's name in the user's language, from its code or from the French name the store gives
    (a credential sheet carries only that); anything else is shown as it is."""
    code = role if role in ROLE_LABELS else _ROLE_OF_FRENCH_NAME.get(role)
    return str(ROLE_LABELS[code]) if code else role


def role_choices() -> list[tuple[str, str]]:
    return [(role, role_label(role)) for role in ROLES]


class UserForm(FlaskForm):
    username = StringField(
        _l("Identifiant"),
        validators=[
            DataRequired(_l("Champ obligatoire.")),
            Length(min=2, max=40, message=_l("Entre 2 et 40 caractères.")),
            Regexp(r"^[a-zA-Z0-9._-]+$", message=_l("Lettres sans accents, chiffres, point, tiret seulement.")),
        ],
    )
    first_name = StringField(_l("Prénom"), validators=[DataRequired(_l("Champ obligatoire.")), Length(max=80)])
    last_name = StringField(lazy_pgettext("last name", "Nom"),
                            validators=[DataRequired(_l("Champ obligatoire.")), Length(max=80)])
    role = SelectField(_l("Rôle"), choices=role_choices)
    phone = StringField(
        _l("Téléphone"),
        validators=[Optional(), Regexp(r"^\+?[0-9 ]{8,16}$", message=_l("Numéro invalide (8 chiffres au Mali)."))],
    )
    language = SelectField(_l("Langue"), choices=LANGUAGES)
    active = BooleanField(_l("Compte actif"), default=True)
