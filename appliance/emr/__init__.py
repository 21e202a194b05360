"""The intranet EMR: a Flask application factory with one blueprint per area."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import ModuleType

from flask import Flask, g, redirect, request, session, url_for
from flask_babel import Babel, get_locale
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from appliance import hooks, sessions
from appliance.config import Config
from appliance.emr import errors, headers, i18n, input, submissions
from appliance.emr.security import PUBLIC_ENDPOINTS, check_every_view_is_guarded, load_session_user
from appliance.store.readonly import flag_path  # written by the agent before a low-battery shutdown

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = None
login_manager.session_protection = "basic"
login_manager.user_loader(load_session_user)



def create_app(cfg: Config, *, testing: bool = False) -> Flask:
    app = Flask(__name__)
    app.config.update(
        APPLIANCE=cfg,
        TESTING=testing,
        SECRET_KEY=cfg.secret("flask_secret_key"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # The cookie only names a server-side session (appliance/sessions.py), which holds the idle
        # and absolute limits: it need not be re-signed as the user works.
        SESSION_REFRESH_EACH_REQUEST=False,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=cfg.web.session_max_hours),
        # A consultation form may stay open for an hour on a nurse's phone: the token lives
        # as long as the session instead of WTF's default hour.
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE=cfg.web.default_language,
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=dt.timedelta(days=7),
    )
    input.install(app)  # before the blueprints: their <int:...> routes use its converter
    headers.install(app)
    Babel(app, locale_selector=_select_locale)
    i18n.install_in_templates(app)
    submissions.install(app)
    csrf.init_app(app)
    login_manager.init_app(app)

    areas = _areas()
    for area in areas:
        app.register_blueprint(area.bp)
    registry = _compose_hooks(areas)
    app.extensions["hooks"] = registry
    hooks.install(registry)  # the record's write path (appliance.patients) runs its patient_written hooks
    errors.register(app)
    app.before_request(_guard_request)
    app.context_processor(_template_globals)
    check_every_view_is_guarded(app)
    return app


def _areas() -> list[ModuleType]:
    """Every area of the EMR: its blueprint ``bp`` and, optionally, its home ``TILES``. A new area
    adds its module here."""
    from appliance.emr import (
        account,
        admin,
        auth,
        avis,
        backup,
        bulk_users,
        documents,
        facility,
        followup,
        home,
        outbox,
        patients,
        pcime,
        power,
        pregnancy,
        prescriptions,
        referrals,
        reports,
        stock,
        vaccination,
        visits,
    )

    return [auth, home, account, admin, bulk_users, patients, visits, power, followup, reports, outbox, facility,
            backup, pcime, stock, pregnancy, referrals, prescriptions, avis, vaccination, documents]


def _compose_hooks(areas: list[ModuleType]) -> hooks.Hooks:
    """The web process's hook registry: the record's hooks (a visit recomputes the follow-up),
    each area's home tiles, and the follow-up's and PCIME's parts of the patient chart."""
    from appliance.emr import avis, followup, pcime, pregnancy, referrals
    from appliance.wiring import record_hooks

    registry = record_hooks()
    for area in areas:
        for tile in getattr(area, "TILES", ()):
            registry.add(hooks.HOME_TILE, tile)
        for section in getattr(area, "TODAY", ()):
            registry.add(hooks.HOME_TODAY, section)
    registry.add(hooks.CHART_EXTRAS, followup.chart_extras)
    registry.add(hooks.CHART_EXTRAS, pcime.chart_extras)
    registry.add(hooks.CHART_EXTRAS, pregnancy.chart_extras)
    registry.add(hooks.CHART_EXTRAS, referrals.chart_extras)
    registry.add(hooks.CHART_EXTRAS, avis.chart_extras)
    return registry


def _select_locale() -> str:
    if current_user and current_user.is_authenticated:
        return current_user.language
    chosen = request.cookies.get("lang", "")
    # the cookie is whatever the browser sends: only a language the EMR has is taken from it
    return chosen if chosen in ("fr", "en") else _config().web.default_language


def _config() -> Config:
    from flask import current_app

    return current_app.config["APPLIANCE"]


def _guard_request():
    """Login (a live server-side session), forced password change and the battery read-only mode."""
    endpoint = request.endpoint or ""
    if endpoint in PUBLIC_ENDPOINTS or endpoint == "":
        return None
    if not current_user.is_authenticated:
        if g.get("session_expired"):
            session.clear()
            return redirect(url_for("auth.login", expired=1, next=return_path()))
        return redirect(url_for("auth.login", next=return_path()))
    sessions.touch(current_user.session)
    if current_user.must_change_password and endpoint not in ("account.password", "auth.logout"):
        return redirect(url_for("account.password"))
    if request.method == "POST" and flag_path(_config().paths.data_dir).exists():
        g.read_only = True
        return errors.read_only()
    return None


def return_path() -> str:
    """Where to come back after logging in: the page, or for a form sent after the session ended,
    the form itself (what was typed waits on the phone, static/drafts.js, under this address)."""
    return request.full_path.rstrip("?")


def _template_globals() -> dict:
    from appliance.emr.security import can
    from appliance.store.clock import behind_since

    # Staff are told when the box's clock is behind what it already wrote (no RTC on the Pi).
    clock_behind = behind_since() if current_user and current_user.is_authenticated else None
    return {"site": _config().site, "can": can, "current_locale": str(get_locale() or "fr"),
            "clock_behind": clock_behind, "clock_today": dt.date.today()}
