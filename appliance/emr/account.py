"""A user's own account: change password (forced at first login), choose the language."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_user

from appliance.accounts import password_problem, set_password, verify_password
from appliance.emr.forms import LanguageForm, PasswordForm
from appliance.emr.i18n import gettext as _
from appliance.emr.security import SessionUser, requires
from appliance.store.audit import audited_save
from appliance.store.models import User

bp = Blueprint("account", __name__, url_prefix="/compte")


@bp.route("/mot-de-passe", methods=["GET", "POST"])
@requires("account")
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        user = User.get_by_id(current_user.id)
        if not verify_password(user.password_hash, form.current.data):
            form.current.errors.append(_("Mot de passe actuel incorrect."))
        else:
            problem = password_problem(form.new.data)
            if problem:
                form.new.errors.append(problem)
            elif form.new.data == form.current.data:
                form.new.errors.append(_("Choisissez un mot de passe différent de l'actuel."))
            else:
                set_password(current_user.actor, user, form.new.data, must_change=False)
                login_user(SessionUser(User.get_by_id(user.id)))
                flash(_("Mot de passe changé."))
                return redirect(url_for("home.index"))
    return render_template("account/password.html", form=form, forced=current_user.must_change_password)


@bp.route("/langue", methods=["GET", "POST"])
@requires("account")
def language():
    form = LanguageForm(language=current_user.language)
    if form.validate_on_submit():
        user = User.get_by_id(current_user.id)
        user.language = form.language.data
        audited_save(current_user.actor, user)
        login_user(SessionUser(user))
        return redirect(url_for("home.index"))
    return render_template("account/language.html", form=form)
