import peewee

from appliance.store.models import User
from appliance.store.readonly import flag_path
from tests.conftest import text_of


def test_404_is_french_without_a_trace(login_as):
    response = login_as("admin").get("/nulle-part")
    assert response.status_code == 404 and "Page introuvable" in response.text
    assert "Traceback" not in response.text


def test_an_unexpected_error_shows_a_french_page_not_a_trace(login_as, app, monkeypatch):
    web = login_as("admin")

    def boom(*_args, **_kwargs):
        raise ZeroDivisionError("secret detail")

    monkeypatch.setattr("appliance.emr.admin.render_template", boom)
    response = web.get("/admin/utilisateurs")
    assert response.status_code == 500 and "Erreur interne" in response.text
    assert "secret detail" not in response.text and "Traceback" not in response.text


def test_a_full_disk_saves_nothing_and_says_so(login_as, store):
    web = login_as("admin")
    users_before = User.select().count()
    page_count = store.execute_sql("PRAGMA page_count").fetchone()[0]
    store.execute_sql(f"PRAGMA max_page_count = {page_count + 2}")  # SQLite's own "disk full" path
    fill = {
        "audit_entry": "INSERT INTO audit_entry (at, username, role, action, table_name, row_id, after) "
                       "VALUES ('2026-01-01', 'x', 'x', 'x', 'x', '', hex(randomblob(?)))",
        "user": "INSERT INTO user (username, first_name, last_name, role, phone, password_hash, language, active, "
                "must_change_password, failed_logins, created_at) VALUES (hex(randomblob(8)), 'x', 'x', 'x', '', "
                "hex(randomblob(?)), 'fr', 0, 0, 0, '2026-01-01')",
    }
    for statement in fill.values():  # fill every page of the tables a new account writes to
        for size in (1000, 200, 50, 10, 1):
            try:
                while True:
                    store.execute_sql(statement, (size,))
            except peewee.OperationalError:
                pass
    users_before = User.select().count()
    response = web.post("/admin/utilisateurs/nouveau", {
        "username": "bakary", "first_name": "Bakary", "last_name": "Sangaré", "role": "matrone",
        "language": "fr", "phone": "",
    })
    store.execute_sql("PRAGMA max_page_count = 1073741823")
    assert response.status_code == 507, response.text[-1500:]
    assert "La carte mémoire est pleine : rien n'a été enregistré" in text_of(response)
    assert User.select().count() == users_before


def test_read_only_mode_during_a_low_battery_shutdown(login_as, cfg):
    web = login_as("admin")
    flag_path(cfg.paths.data_dir).write_text("battery critical")
    response = web.post("/compte/langue", {"language": "en"})
    assert response.status_code == 503 and "batterie est presque vide" in response.text
    assert web.get("/").status_code == 200  # reading still works
    assert User.get_by_id(web.user.id).language == "fr"


def test_a_locked_database_asks_to_retry(login_as, monkeypatch):
    web = login_as("admin")

    class LockedUser:
        @staticmethod
        def select(*_args, **_kwargs):
            raise peewee.OperationalError("database is locked")

    monkeypatch.setattr("appliance.emr.admin.User", LockedUser)
    response = web.get("/admin/utilisateurs")
    assert response.status_code == 503 and "Réessayez" in response.text
