"""A user's own account: change password (forced at first login), choose the language."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_user

from appliance.accounts import check_password, password_problem, set_password
from appliance.emr.auth import attempt_for, refused_message
from appliance.emr.forms import LanguageForm, PasswordForm
from appliance.emr.i18n import gettext as _
from appliance.emr.security import requires, start_session
from appliance.store.audit import audited_save
from appliance.store.models import User

bp = Blueprint("account", __name__, url_prefix="/compte")


@bp.route("/mot-de-passe", methods=["GET", "POST"])
@requires("account")
def password():
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        user = User.get_by_id(current_user.id)
        checked = check_password(user.username, form.current.data, attempt_for(user.username), action="password_check")
        if checked.retry_after_s:
            form.current.errors.append(refused_message(checked.retry_after_s))
            status = 429
        elif checked.user is None:
            form.current.errors.append(_("Mot de passe actuel incorrect."))
            status = 401
        else:
            site = current_app.config["APPLIANCE"].site
            problem = password_problem(form.new.data, words=(user.username, user.first_name, user.last_name,
                                                              site.name, site.id))
            if problem:
                form.new.errors.append(problem)
            elif form.new.data == form.current.data:
                form.new.errors.append(_("Choisissez un mot de passe différent de l'actuel."))
            else:
                set_password(current_user.actor, user, form.new.data, must_change=False)
                login_user(start_session(user))  # every other session, this one's old token too, has ended
                flash(_("Mot de passe changé."))
                return redirect(url_for("home.index"))
    page = render_template("account/password.html", form=form, forced=current_user.must_change_password)
    return page, status


@bp.route("/langue", methods=["GET", "POST"])
@requires("account")
def language():
    form = LanguageForm(language=current_user.language)
    if form.validate_on_submit():
        user = User.get_by_id(current_user.id)
        user.language = form.language.data
        audited_save(current_user.actor, user)
        return redirect(url_for("home.index"))
    return render_template("account/language.html", form=form)
