"""One write per form, however often the phone sends it.

Every form carries a one-time token (``submission_field`` in its template). A view wrapped in
``once`` runs under the write lock (``BEGIN IMMEDIATE``): a token already stored means the form
was saved before (a double tap, ten identical requests at once, the back button, a retry after a
reply lost in a power cut), and the user is shown what it saved instead of saving it again. A
token is stored in the write's own transaction, only when the view wrote and answered with a
redirect (a form shown again with its errors keeps its token for the next try).

The form shown by the back button after a save carries the token it was saved with, with a note
and a link to start another one; what was typed is kept on the phone (static/drafts.js) when a
session expires, and offered again after the login, under a new token.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from functools import wraps

from flask import Flask, flash, redirect, request, session, url_for
from flask_babel import format_time
from flask_login import current_user
from markupsafe import Markup, escape

from appliance.emr.i18n import gettext as _
from appliance.store import submissions
from appliance.store.db import database
from appliance.store.models import utcnow

FIELD = "submission_token"
ANOTHER = "autre"  # ?autre=1: a fresh form, even right after one was saved
SAVED_KEY = "saved_submission"  # the token just saved, for the phone to forget its draft
BACK_WINDOW = dt.timedelta(minutes=30)
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
    """The form's hidden token; on the form the back button shows after a save, that save's token
    and a note saying so, with a link to a fresh form."""
    token, notice, saved = _posted_token(), Markup(""), False
    if token is None and current_user.is_authenticated and not request.args.get(ANOTHER):
        last = submissions.latest(current_user.id, request.path, since=utcnow() - BACK_WINDOW)
        if last is not None:
            token, saved = last.token, True
            notice = Markup('<p class="flash warning" role="status">{} <a href="{}">{}</a> · '
                            '<a href="{}">{}</a></p>').format(
                _("Ce formulaire a été enregistré à %(time)s.",
                  time=format_time(last.created_at.replace(tzinfo=dt.UTC), "HH:mm")),
                last.location, _("Voir l'enregistrement"),
                url_for(request.endpoint, **(request.view_args or {}), **{ANOTHER: 1}), _("Saisir un nouveau"))
    user = current_user.id if current_user.is_authenticated else ""
    return notice + Markup('<input type="hidden" name="{}" value="{}" data-draft-user="{}" '
                           'data-draft-note="{}"{}>').format(
        FIELD, token or secrets.token_urlsafe(18), user,
        _("Saisie non enregistrée retrouvée sur ce téléphone : vérifiez-la puis enregistrez."),
        Markup(' data-saved="1"') if saved else "")


def saved_token() -> str:
    """The token saved by the request before (once read): the page tells the phone to drop its draft."""
    return escape(session.pop(SAVED_KEY, ""))


def install(app: Flask) -> None:
    app.jinja_env.globals.update(submission_field=submission_field, saved_submission=saved_token)
