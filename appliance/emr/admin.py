"""Administration: user accounts and the audit trail."""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from appliance.accounts import create_user, generate_password, set_password
from appliance.emr.forms import UserForm
from appliance.emr.i18n import gettext as _
from appliance.emr.security import requires
from appliance.emr.submissions import once
from appliance.store.audit import audited_save
from appliance.store.models import AuditEntry, User

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE_SIZE = 50


@bp.route("/utilisateurs")
@requires("users.manage")
def users():
    accounts = User.select().order_by(User.active.desc(), User.last_name, User.first_name)
    return render_template("admin/users.html", users=accounts)


@bp.route("/utilisateurs/nouveau", methods=["GET", "POST"])
@requires("users.manage")
@once
def new_user():
    form = UserForm()
    if form.validate_on_submit():
        username = form.username.data.strip().lower()
        if User.select().where(User.username == username).exists():
            form.username.errors.append(_("Cet identifiant est déjà utilisé."))
        else:
            password = generate_password()
            user = create_user(current_user.actor, username=username, first_name=form.first_name.data,
                               last_name=form.last_name.data, role=form.role.data, phone=form.phone.data or "",
                               language=form.language.data, password=password)
            return render_template("admin/credentials.html", user=user, password=password)
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/utilisateurs/<int:user_id>", methods=["GET", "POST"])
@requires("users.manage")
@once
def edit_user(user_id: int):
    user = User.get_or_none(User.id == user_id) or abort(404)
    form = UserForm(obj=user)
    form.username.render_kw = {"readonly": True}
    if request.method == "POST":
        form.username.data = user.username
    if form.validate_on_submit():
        if user.id == current_user.id and (not form.active.data or form.role.data != "admin"):
            flash(_("Vous ne pouvez pas retirer vos propres droits d'administrateur."), "error")
        else:
            for name in ("first_name", "last_name", "role", "phone", "language", "active"):
                setattr(user, name, getattr(form, name).data if name != "phone" else (form.phone.data or ""))
            audited_save(current_user.actor, user)
            flash(_("Compte enregistré."))
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user)


@bp.route("/utilisateurs/<int:user_id>/mot-de-passe", methods=["POST"])
@requires("users.manage")
def reset_password(user_id: int):
    user = User.get_or_none(User.id == user_id) or abort(404)
    password = generate_password()
    set_password(current_user.actor, user, password, must_change=True)
    return render_template("admin/credentials.html", user=user, password=password)


@bp.route("/journal")
@requires("audit.read")
def audit():
    page = max(request.args.get("page", 1, type=int), 1)
    query = AuditEntry.select().order_by(AuditEntry.id.desc())
    if who := request.args.get("qui", "").strip():
        query = query.where(AuditEntry.username == who.lower())
    if table := request.args.get("table", "").strip():
        query = query.where(AuditEntry.table_name == table)
    entries = list(query.paginate(page, AUDIT_PAGE_SIZE + 1))
    has_more = len(entries) > AUDIT_PAGE_SIZE
    rows = [(entry, _decode(entry.before), _decode(entry.after)) for entry in entries[:AUDIT_PAGE_SIZE]]
    return render_template("admin/audit.html", rows=rows, page=page, has_more=has_more, who=who, table=table)


def _decode(text: str | None) -> dict:
    return json.loads(text) if text else {}
