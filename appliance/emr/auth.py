"""Login and logout, with the lockout message staff need to understand what happened."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_time
from flask_login import login_user, logout_user

from appliance.accounts import authenticate
from appliance.emr.forms import LoginForm
from appliance.emr.i18n import gettext as _
from appliance.emr.security import SessionUser, requires

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("home.index")


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if request.args.get("expired"):
        error = _("Session expirée après une période d'inactivité : reconnectez-vous.")
    if form.validate_on_submit():
        security = current_app.config["APPLIANCE"].security
        result = authenticate(form.username.data, form.password.data,
                              max_failures=security.max_failed_logins,
                              lockout=dt.timedelta(minutes=security.lockout_minutes))
        if result.user is not None:
            session.clear()
            login_user(SessionUser(result.user))
            return redirect(_safe_next(request.args.get("next")))
        if result.newly_locked and current_app.config["APPLIANCE"].telemetry.enabled:
            from appliance.telemetry.events import emit_event

            emit_event("login_lockout", {"user": form.username.data.strip().lower()[:40]})
        if result.locked_until:
            local = result.locked_until.replace(tzinfo=dt.UTC)
            error = _("Compte verrouillé après trop d'essais. Réessayez après %(time)s ou demandez à "
                      "l'administrateur.", time=format_time(local, "HH:mm"))
        else:
            error = _("Identifiant ou mot de passe incorrect.")
    status = 200 if error is None or request.method == "GET" else 401
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/deconnexion", methods=["POST"])
@requires("account")
def logout():
    logout_user()
    session.clear()
    flash(_("Vous êtes déconnecté."))
    return redirect(url_for("auth.login"))
