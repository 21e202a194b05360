"""Accounts in bulk: CSV template, upload to a staging table, create all or none; replace, deactivate.

The credentials sheet is the response of the POST that creates the accounts: the passwords
exist only in that response (its CSV download is a data: link inside the same page), marked
``no-store`` so the browser does not keep it. Nothing holds them afterwards: a lost sheet means
resetting the password from the account's page.
"""

from __future__ import annotations

import base64
import io

from flask import Blueprint, Response, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_pgettext
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from appliance import spreadsheets
from appliance.emr.forms import role_choices
from appliance.emr.home import Tile
from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.security import requires
from appliance.store.models import ROLES, User
from appliance.users.csvfile import MAX_BYTES, MAX_ROWS, REQUIRED_COLUMNS
from appliance.users.importer import (
    CommitRefused,
    Credential,
    commit,
    deactivate_user,
    replace_user,
    replacement_of,
    stage,
)
from appliance.users.models import BatchStatus, UserImportBatch, UserImportRow

bp = Blueprint("bulk_users", __name__, url_prefix="/admin/comptes")
TILES = (
    Tile(_l("Comptes : import CSV, remplacements"), "bulk_users.index", "users.bulk", order=80),
)  # on the home page (composed in create_app)


class UploadForm(FlaskForm):
    fichier = FileField(_l("Fichier CSV"), validators=[FileRequired(_l("Choisissez un fichier CSV."))])


class ReplaceForm(FlaskForm):
    username = StringField(_l("Identifiant du nouveau compte"), validators=[DataRequired(_l("Champ obligatoire."))])
    first_name = StringField(_l("Prénom"), validators=[DataRequired(_l("Champ obligatoire."))])
    last_name = StringField(lazy_pgettext("last name", "Nom"), validators=[DataRequired(_l("Champ obligatoire."))])
    role = SelectField(_l("Rôle"), choices=role_choices)
    phone = StringField(_l("Téléphone"))
    reason = StringField(_l("Motif"), validators=[DataRequired(_l("Champ obligatoire.")), Length(max=200)])


class DeactivateForm(FlaskForm):
    reason = StringField(_l("Motif"), validators=[DataRequired(_l("Un motif est obligatoire.")), Length(max=200)])


@bp.route("/")
@requires("users.bulk")
def index():
    staged = (UserImportBatch.select().where(UserImportBatch.status == BatchStatus.STAGED)
              .order_by(UserImportBatch.id.desc()).first())
    accounts = User.select().where(User.active == True).order_by(User.last_name, User.first_name)  # noqa: E712
    return render_template("admin/bulk_index.html", form=UploadForm(), staged=staged, accounts=accounts,
                           roles=ROLES, columns=REQUIRED_COLUMNS, max_rows=MAX_ROWS, max_mb=MAX_BYTES // 2**20)


@bp.route("/modele.csv")
@requires("users.bulk")
def template():
    """The empty template: UTF-8 with BOM so that Excel shows the accents; « ;» on request for French Excel."""
    delimiter = ";" if request.args.get("sep") == ";" else ","
    body = "\ufeff" + delimiter.join(REQUIRED_COLUMNS) + "\r\n"
    response = make_response(body.encode("utf-8"))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    name = "modele-comptes-excel.csv" if delimiter == ";" else "modele-comptes.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.route("/import", methods=["POST"])
@requires("users.bulk")
def upload():
    form = UploadForm()
    if not form.validate_on_submit():
        for error in form.fichier.errors:
            flash(error, "error")
        return redirect(url_for("bulk_users.index"))
    data = form.fichier.data.read(MAX_BYTES + 1)
    batch = stage(current_user.actor, form.fichier.data.filename or "", data)
    return redirect(url_for("bulk_users.staging", batch_id=batch.id))


@bp.route("/import/<int:batch_id>")
@requires("users.bulk")
def staging(batch_id: int):
    batch = UserImportBatch.get_or_none(UserImportBatch.id == batch_id) or abort(404)
    rows = list(batch.rows.order_by(UserImportRow.line))
    # Every problem as one line too: on a phone the table's right-hand columns are off screen.
    problems = batch.problems + [problem for row in rows for problem in row.problems]
    return render_template("admin/bulk_staging.html", batch=batch, rows=rows, problems=problems,
                           form=UploadForm())


@bp.route("/import/<int:batch_id>/creer", methods=["POST"])
@requires("users.bulk")
def create(batch_id: int):
    batch = UserImportBatch.get_or_none(UserImportBatch.id == batch_id) or abort(404)
    try:
        credentials = commit(current_user.actor, batch)
    except CommitRefused as refused:
        flash(str(refused), "error")
        return redirect(url_for("bulk_users.staging", batch_id=batch_id))
    return _credentials_sheet(credentials)


@bp.route("/<int:user_id>/remplacer", methods=["GET", "POST"])
@requires("users.bulk")
def replace(user_id: int):
    old = User.get_or_none(User.id == user_id) or abort(404)
    form = ReplaceForm(role=old.role)
    if old.id == current_user.id:
        flash(_("Vous ne pouvez pas remplacer votre propre compte."), "error")
        return redirect(url_for("bulk_users.index"))
    if form.validate_on_submit():
        try:
            credential = replace_user(current_user.actor, old, username=form.username.data,
                                      first_name=form.first_name.data, last_name=form.last_name.data,
                                      role=form.role.data, phone=form.phone.data or "", reason=form.reason.data)
        except CommitRefused as refused:
            flash(str(refused), "error")
        else:
            return _credentials_sheet([credential])
    return render_template("admin/bulk_replace.html", form=form, old=old, replacement=replacement_of(old))


@bp.route("/<int:user_id>/desactiver", methods=["POST"])
@requires("users.bulk")
def deactivate(user_id: int):
    user = User.get_or_none(User.id == user_id) or abort(404)
    form = DeactivateForm()
    if user.id == current_user.id:
        flash(_("Vous ne pouvez pas désactiver votre propre compte."), "error")
    elif not form.validate_on_submit():
        flash(_("Un motif est obligatoire pour désactiver un compte."), "error")
    else:
        deactivate_user(current_user.actor, user, form.reason.data)
        flash(_("Compte %(username)s désactivé : il ne peut plus se connecter, son historique est conservé.",
                username=user.username))
    return redirect(url_for("bulk_users.index"))


def _credentials_sheet(credentials: list[Credential]) -> Response:
    response = make_response(render_template(
        "admin/bulk_credentials.html", credentials=credentials, csv_data_uri=_csv_data_uri(credentials)))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _csv_data_uri(credentials: list[Credential]) -> str:
    """The sheet as a CSV inside the page itself: downloaded by the browser, never kept by the server."""
    buffer = io.StringIO()
    writer = spreadsheets.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["identifiant", "mot_de_passe_provisoire", "nom", "role", "telephone", "remplace"])
    for c in credentials:
        writer.writerow([c.username, c.password, c.full_name, c.role_label, c.phone, c.replaces])
    encoded = base64.b64encode(("\ufeff" + buffer.getvalue()).encode("utf-8")).decode("ascii")
    return f"data:text/csv;charset=utf-8;base64,{encoded}"
