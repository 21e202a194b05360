"""The admin pages: template, upload → staging with errors → corrected upload → all accounts or none."""

from __future__ import annotations

import base64
import io
import re

import pytest

from appliance.accounts import verify_password
from appliance.store.audit import system_actor
from appliance.store.models import AuditEntry, User
from appliance.users.importer import stage
from appliance.users.models import UserImportBatch, UserImportRow, UserReplacement

BAD = "identifiant;prenom;nom;role;telephone\r\nawa.traore;Awa;Traoré;nurse;76 12 34 56\r\n" \
      "moussa.kone;Moussa;;infirmier;\r\n"
FIXED = "identifiant;prenom;nom;role;telephone\r\nawa.traore;Awa;Traoré;sage_femme;76 12 34 56\r\n" \
        "moussa.kone;Moussa;Koné;infirmier;\r\n"


def upload(web, content: str, encoding="cp1252"):
    """Upload and follow to the staging page: (its batch id, its text)."""
    page = web.post("/admin/comptes/import", {"fichier": (io.BytesIO(content.encode(encoding)), "comptes.csv")},
                    content_type="multipart/form-data", follow_redirects=True)
    return int(page.request.path.rsplit("/", 1)[1]), page.get_data(as_text=True)


@pytest.fixture
def admin(login_as):
    return login_as("admin")


def test_only_admins_reach_the_bulk_pages(login_as):
    nurse = login_as("infirmier")
    assert nurse.get("/admin/comptes/").status_code == 403
    assert nurse.get("/admin/comptes/modele.csv").status_code == 403


def test_template_has_the_header_and_the_page_lists_the_role_codes(admin):
    template = admin.get("/admin/comptes/modele.csv")
    assert template.data.decode("utf-8-sig").strip() == "identifiant,prenom,nom,role,telephone"
    assert admin.get("/admin/comptes/modele.csv?sep=;").data.decode("utf-8-sig").startswith("identifiant;prenom")
    page = admin.get("/admin/comptes/").get_data(as_text=True)
    for code in ("medecin", "sage_femme", "infirmier", "matrone", "agent_saisie", "admin"):
        assert f'<span class="mono">{code}</span>' in page


def test_upload_fix_and_reupload_then_create_all_with_a_one_time_sheet(admin):
    _, page = upload(admin, BAD)
    assert "rôle inconnu « nurse »" in page and "nom vide" in page and "2 problème(s)" in page
    assert "Créer les" not in page
    assert User.select().count() == 1  # only the admin

    batch_id, page = upload(admin, FIXED)
    assert "Les 2 lignes sont correctes" in page
    assert UserImportBatch.select().where(UserImportBatch.status == "superseded").count() == 1
    assert UserImportRow.select().where(UserImportRow.batch != batch_id).count() == 0

    sheet = admin.post(f"/admin/comptes/import/{batch_id}/creer")
    assert sheet.status_code == 200 and sheet.headers["Cache-Control"] == "no-store"
    html = sheet.get_data(as_text=True)
    passwords = dict(re.findall(r'<strong class="mono">([a-z.]+)</strong></p>\s*<p>[^<]*<strong class="mono">'
                                r'([a-z0-9]+)</strong>', html))
    assert set(passwords) == {"awa.traore", "moussa.kone"}
    awa = User.get(User.username == "awa.traore")
    assert awa.must_change_password and verify_password(awa.password_hash, passwords["awa.traore"])
    csv_uri = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)" download', html).group(1)
    assert passwords["moussa.kone"] in base64.b64decode(csv_uri).decode("utf-8-sig")
    # Nowhere else: not in staging, not in the trail, not in the session cookie.
    assert UserImportRow.select().count() == 0
    trail = " ".join(f"{e.before} {e.after} {e.reason}" for e in AuditEntry.select())
    cookie = admin.raw.get_cookie("session").value
    for password in passwords.values():
        assert password not in trail and password not in cookie

    again = admin.post(f"/admin/comptes/import/{batch_id}/creer", follow_redirects=True)
    assert "déjà été traité" in again.get_data(as_text=True)
    assert User.select().count() == 3


def test_commit_is_all_or_none_when_a_username_was_taken_meanwhile(admin, make_user):
    batch = stage(system_actor("tests"), "comptes.csv", FIXED.encode())
    make_user("medecin", username="moussa.kone")
    page = admin.post(f"/admin/comptes/import/{batch.id}/creer", follow_redirects=True).get_data(as_text=True)
    assert "aucun compte n&#39;a été créé" in page and "déjà utilisé par un compte existant" in page
    assert not User.select().where(User.username == "awa.traore").exists()


def test_replace_deactivates_the_old_account_and_links_the_new_one(admin, make_user):
    old = make_user("matrone", username="kadia")
    sheet = admin.post(f"/admin/comptes/{old.id}/remplacer", {
        "username": "oumou", "first_name": "Oumou", "last_name": "Sangaré", "role": "matrone", "phone": "",
        "reason": "départ à la retraite"})
    assert sheet.status_code == 200 and "Remplace le compte kadia" in sheet.get_data(as_text=True)
    new = User.get(User.username == "oumou")
    assert not User.get_by_id(old.id).active and new.must_change_password
    link = UserReplacement.get(UserReplacement.old_user == old.id)
    assert link.new_user.id == new.id and link.reason == "départ à la retraite"
    old_trail = AuditEntry.select().where((AuditEntry.table_name == "user") & (AuditEntry.row_id == str(old.id)))
    assert old_trail.count() == 2  # created, then deactivated: the history stays
    refused = admin.post(f"/admin/comptes/{old.id}/remplacer", {
        "username": "autre", "first_name": "A", "last_name": "B", "role": "matrone", "reason": "x"})
    assert "déjà été remplacé" in refused.get_data(as_text=True)


def test_deactivate_needs_a_reason_and_keeps_the_account(admin, make_user):
    user = make_user("agent_saisie", username="saisie")
    admin.post(f"/admin/comptes/{user.id}/desactiver", {"reason": ""})
    assert User.get_by_id(user.id).active
    admin.post(f"/admin/comptes/{user.id}/desactiver", {"reason": "a quitté le centre"})
    assert not User.get_by_id(user.id).active
    assert AuditEntry.get((AuditEntry.row_id == str(user.id)) & (AuditEntry.action == "update")).reason == \
        "a quitté le centre"
    assert admin.post(f"/admin/comptes/{admin.user.id}/desactiver", {"reason": "x"}).status_code == 302
    assert User.get_by_id(admin.user.id).active


def test_the_accounts_list_offers_a_password_reset_that_shows_it_once(admin, make_user):
    user = make_user("infirmier", username="fanta")
    page = admin.get("/admin/comptes/").get_data(as_text=True)
    assert f'action="/admin/utilisateurs/{user.id}/mot-de-passe"' in page
    sheet = admin.post(f"/admin/utilisateurs/{user.id}/mot-de-passe").get_data(as_text=True)
    password = re.search(r'Mot de passe provisoire : <strong class="mono">([a-z0-9]+)</strong>', sheet).group(1)
    fresh = User.get_by_id(user.id)
    assert fresh.must_change_password and verify_password(fresh.password_hash, password)


def test_a_file_at_the_row_limit_is_staged_whole(admin):
    from appliance.users.csvfile import MAX_ROWS

    rows = "".join(f"agent{n};Prénom;Nom{n};agent_saisie;76 00 {n // 100:02d} {n % 100:02d}\r\n"
                   for n in range(MAX_ROWS))
    batch_id, page = upload(admin, "identifiant;prenom;nom;role;telephone\r\n" + rows)
    assert f"Les {MAX_ROWS} lignes sont correctes" in page
    assert UserImportRow.select().where(UserImportRow.batch == batch_id).count() == MAX_ROWS
