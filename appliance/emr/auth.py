"""Login and logout, under the guessing throttle, with the messages staff need.

A browser where an account logged in before carries a signed "device" cookie naming it:
its attempts for that account are counted apart (``appliance.throttle``), so a stranger
hammering a name on the WiFi does not stop its owner on her own phone.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_time
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeSerializer

from appliance import sessions
from appliance.accounts import Attempt, authenticate
from appliance.emr.forms import LoginForm
from appliance.emr.i18n import gettext as _
from appliance.emr.security import requires, start_session

bp = Blueprint("auth", __name__)

DEVICE_COOKIE = "appareil"
DEVICE_COOKIE_DAYS = 400
DEVICE_NAMES_KEPT = 12  # a shared clinic phone remembers its last dozen accounts
# A local path only: no scheme, no host, no //, no backslash, no control character or space
# that a browser strips before reading "/\t/evil.example" as "//evil.example".
_LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x7e]*")


def safe_next(target: str | None) -> str:
    if target and _LOCAL_PATH.fullmatch(target) and "\\" not in target:
        return target
    return url_for("home.index")


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="device")


def _device_cookie() -> dict:
    try:
        value = _device_serializer().loads(request.cookies.get(DEVICE_COOKIE, ""))
    except BadSignature:
        return {}
    return value if isinstance(value, dict) else {}


def trusted_device(username: str) -> str | None:
    """This browser's device id if ``username`` logged in on it before."""
    device = _device_cookie()
    names = device.get("u", [])
    if isinstance(names, list) and username.strip().lower() in names:
        return str(device.get("d", ""))[:32] or None
    return None


def attempt_for(username: str) -> Attempt:
    return Attempt.under(current_app.config["APPLIANCE"].security, request.remote_addr or "?",
                         trusted_device(username))


def refused_message(retry_after_s: float) -> str:
    """The same words for a known and an unknown name: they say nothing about which exists."""
    until = dt.datetime.fromtimestamp(time.time() + retry_after_s, dt.UTC)
    return _("Trop d'essais pour cet identifiant ou depuis ce téléphone. Réessayez après %(time)s ou "
             "demandez à l'administrateur.", time=format_time(until, "HH:mm"))


def _remember_device(response, username: str):
    device = _device_cookie()
    names = [name for name in device.get("u", []) if isinstance(name, str) and name != username]
    value = {"d": str(device.get("d") or secrets.token_urlsafe(12))[:32],
             "u": [username, *names][:DEVICE_NAMES_KEPT]}
    response.set_cookie(DEVICE_COOKIE, _device_serializer().dumps(value), max_age=DEVICE_COOKIE_DAYS * 86400,
                        httponly=True, samesite="Lax")
    return response


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    status = 200
    if request.args.get("expired"):
        error = _("Session expirée après une période d'inactivité : reconnectez-vous.")
    if form.validate_on_submit():
        result = authenticate(form.username.data, form.password.data, attempt_for(form.username.data))
        if result.user is not None:
            session.clear()
            session.permanent = True
            login_user(start_session(result.user))
            return _remember_device(redirect(safe_next(request.args.get("next"))), result.user.username)
        if result.newly_throttled and current_app.config["APPLIANCE"].telemetry.enabled:
            from appliance.telemetry.events import emit_event

            emit_event("login_lockout", {"user": form.username.data.strip().lower()[:40]})
        if result.retry_after_s:
            error, status = refused_message(result.retry_after_s), 429
        else:
            error, status = _("Identifiant ou mot de passe incorrect."), 401
    elif request.method == "POST":
        status = 400
    response = current_app.make_response((render_template("auth/login.html", form=form, error=error), status))
    if status == 429:
        response.headers["Retry-After"] = "60"
    return response


@bp.route("/deconnexion", methods=["POST"])
@requires("account")
def logout():
    sessions.close(current_user.token)
    logout_user()
    session.clear()
    flash(_("Vous êtes déconnecté."))
    return redirect(url_for("auth.login"))
