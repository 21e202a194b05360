"""Error pages in French, never a stack trace, and clear words for storage failures."""

from __future__ import annotations

import logging

import peewee
from flask import Flask, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from appliance.emr.i18n import gettext as _
from appliance.emr.input import RefusedCharacter
from appliance.emr.security import PUBLIC_ENDPOINTS

log = logging.getLogger(__name__)


def _page(status: int, title: str, message: str):
    return render_template("errors/error.html", status=status, title=title, message=message), status


def read_only():
    return _page(
        503,
        _("Enregistrement suspendu"),
        _("La batterie est presque vide : l'appareil s'arrête proprement. Rien de nouveau ne peut être "
          "enregistré pour l'instant ; ce qui a déjà été enregistré est en sécurité."),
    )


def _chain_text(error: BaseException) -> str:
    """Every message in the exception chain: on a full disk SQLite rolls back by itself, and the
    transaction's own rollback then fails with "no transaction is active", hiding the cause."""
    parts, seen = [], set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(str(current).lower())
        current = current.__cause__ or current.__context__
    return " | ".join(parts)


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        if not current_user.is_authenticated and request.endpoint not in PUBLIC_ENDPOINTS:
            # the session ended while the form was open: log in again, then back to the form,
            # where the phone offers again what was typed (static/drafts.js)
            return redirect(url_for("auth.login", expired=1, next=request.full_path.rstrip("?")))
        return _page(400, _("Formulaire expiré"),
                     _("Le formulaire n'est plus valide (page trop ancienne ou ouverte ailleurs). "
                       "Revenez en arrière, rechargez la page et recommencez."))

    @app.errorhandler(RefusedCharacter)
    def refused_character(error: RefusedCharacter):
        return _page(400, _("Caractère refusé"),
                     _("Le champ « %(field)s » contient un caractère invisible ou de contrôle (%(code)s). "
                       "Revenez en arrière et retapez ce champ au clavier, sans copier-coller.",
                       field=error.field, code=f"U+{ord(error.character):04X}"))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        titles = {
            400: (_("Requête incorrecte"), _("La demande n'a pas pu être comprise.")),
            403: (_("Accès refusé"), _("Votre rôle ne permet pas d'ouvrir cette page.")),
            404: (_("Page introuvable"), _("Cette page n'existe pas ou a été déplacée.")),
            405: (_("Action impossible"), _("Cette action n'est pas permise sur cette page.")),
            413: (_("Fichier trop gros"), _("Le fichier envoyé dépasse la taille permise.")),
        }
        title, message = titles.get(error.code or 500, (_("Erreur"), _("La demande n'a pas abouti.")))
        return _page(error.code or 500, title, message)

    @app.errorhandler(peewee.OperationalError)
    def storage_error(error: peewee.OperationalError):
        text = _chain_text(error)
        log.error("storage error: %s", error)
        if "disk is full" in text or "disk i/o" in text:
            return _page(507, _("Mémoire pleine"),
                         _("La carte mémoire est pleine : rien n'a été enregistré. Prévenez l'administrateur ; "
                           "les données déjà enregistrées sont intactes."))
        if "readonly" in text or "read-only" in text:
            return _page(503, _("Base en lecture seule"),
                         _("La base de données ne peut pas être modifiée pour l'instant : rien n'a été "
                           "enregistré. Prévenez l'administrateur."))
        if "locked" in text or "busy" in text:
            return _page(503, _("Base occupée"), _("La base est occupée. Réessayez dans quelques secondes."))
        return _page(500, _("Erreur interne"), _("Une erreur est survenue ; rien n'a été enregistré."))

    @app.errorhandler(Exception)
    def internal_error(error: Exception):
        log.exception("unhandled error")
        return _page(500, _("Erreur interne"),
                     _("Une erreur est survenue. Si elle se répète, prévenez l'administrateur."))
