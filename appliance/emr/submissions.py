"""One write per form, however often the phone sends it.

Every form carries a one-time token (``submission_field`` in its template). A view wrapped in
``once`` runs under the write lock (``BEGIN IMMEDIATE``): a token already stored means the form
was saved before (a double tap, ten identical requests at once, the back button, a retry after a
reply lost in a power cut), and the user is shown what it saved instead of saving it again. A
token is stored in the write's own transaction, only when the view wrote and answered with a
redirect (a form shown again with its errors keeps its token for the next try).

A form opened anew always gets a new token (the next patient registered is another patient); the
form the back button shows again after a save gets back the token it was saved with from the
phone (static/drafts.js), with a note. What was typed is kept on the phone until the server has
saved it: a session that expires loses nothing, the form offers it again after the login, under a
new token.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from functools import wraps

from flask import Flask, flash, redirect, request, session
from flask_login import current_user
from markupsafe import Markup, escape

from appliance.emr.i18n import gettext as _
from appliance.store import submissions
from appliance.store.db import database

FIELD = "submission_token"
SAVED_KEY = "saved_submission"  # the token just saved, for the phone to forget its draft
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _posted_token() -> str | None:
    token = request.form.get(FIELD, "") if request.method == "POST" else ""
    return token if _TOKEN.fullmatch(token) else None


def once(view: Callable) -> Callable:
    """Wrap a form's view so that one token writes at most once (see the module's docstring)."""

    @wraps(view)
    def guarded(*args, **kwargs):
        token = _posted_token()
        if token is None:
            return view(*args, **kwargs)
        with database.atomic("IMMEDIATE"):
            saved = submissions.find(token)
            if saved is not None:
                return _already_saved(saved)
            connection = database.connection()
            changes = connection.total_changes
            response = view(*args, **kwargs)
            if getattr(response, "status_code", 200) in (302, 303) and connection.total_changes > changes:
                submissions.claim(token, user_id=current_user.id, path=request.path, location=response.location)
                session[SAVED_KEY] = token
        return response

    return guarded


def _already_saved(saved: submissions.FormSubmission):
    flash(_("Ce formulaire était déjà enregistré : voici ce qui a été enregistré, rien n'a été ajouté."),
          "warning")
    session[SAVED_KEY] = saved.token
    return redirect(saved.location, 303)


def submission_field() -> Markup:
    """The form's hidden token: the one it was sent with when shown again with its errors, else a
    new one. The phone (static/drafts.js) puts back a saved form's token when the back button
    shows that form again, so sending it again shows what was saved."""
    user = current_user.id if current_user.is_authenticated else ""
    return Markup('<input type="hidden" name="{}" value="{}" data-draft-user="{}" data-draft-note="{}" '
                  'data-saved-note="{}">').format(
        FIELD, _posted_token() or secrets.token_urlsafe(18), user,
        _("Saisie non enregistrée retrouvée sur ce téléphone : vérifiez-la puis enregistrez."),
        _("Ce formulaire est déjà enregistré : l'envoyer de nouveau montre ce qui a été enregistré, "
          "sans rien ajouter."))


def saved_token() -> str:
    """The token saved by the request before (once read): the page tells the phone to drop its draft."""
    return escape(session.pop(SAVED_KEY, ""))


def install(app: Flask) -> None:
    app.jinja_env.globals.update(submission_field=submission_field, saved_submission=saved_token)
