"""Forms of the shell (login, password, users). Labels are lazy so they follow the user's language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from appliance.store.models import ROLES

LANGUAGES = [("fr", "Français"), ("en", "English")]


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


def _role_choices():
    return list(ROLES.items())


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
    last_name = StringField(_l("Nom"), validators=[DataRequired(_l("Champ obligatoire.")), Length(max=80)])
    role = SelectField(_l("Rôle"), choices=_role_choices)
    phone = StringField(
        _l("Téléphone"),
        validators=[Optional(), Regexp(r"^\+?[0-9 ]{8,16}$", message=_l("Numéro invalide (8 chiffres au Mali)."))],
    )
    language = SelectField(_l("Langue"), choices=LANGUAGES)
    active = BooleanField(_l("Compte actif"), default=True)
