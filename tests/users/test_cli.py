"""``appliance users import``: exit 0 only when every row is valid; --dry-run creates nothing."""

from __future__ import annotations

import logging

from click.testing import CliRunner

from appliance.accounts import verify_password
from appliance.cli import main
from appliance.store.models import AuditEntry, User

GOOD = "identifiant;prenom;nom;role;telephone\r\nawa.traore;Awa;Traoré;Sage-femme;76 12 34 56\r\n" \
       "moussa.kone;Moussa;Koné;infirmier;\r\n"


def run(cfg, tmp_path, content: bytes, *options):
    path = tmp_path / "comptes.csv"
    path.write_bytes(content)
    return CliRunner().invoke(main, ["users", "import", "--config", str(cfg.source), *options, str(path)])


def test_invalid_file_prints_one_french_line_per_problem_and_creates_nothing(cfg, store, tmp_path):
    content = "identifiant,prenom,nom,role,telephone\nawa,Awa,Traoré,medecin,\nbob,Bob,,nurse,12\n"
    result = run(cfg, tmp_path, content.encode())
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "ligne 3, colonne nom : nom vide",
        "ligne 3, colonne role : rôle inconnu « nurse » (rôles : medecin, sage_femme, infirmier, matrone, "
        "agent_saisie, admin)",
        "ligne 3, colonne telephone : numéro « 12 » invalide : 8 chiffres au Mali, avec ou sans +223",
    ]
    assert User.select().count() == 0


def test_dry_run_checks_and_creates_nothing(cfg, store, tmp_path):
    result = run(cfg, tmp_path, GOOD.encode("cp1252"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "2 compte(s) seraient créés" in result.output
    assert User.select().count() == 0


def test_import_creates_every_account_with_a_one_time_password_never_logged(cfg, store, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    result = run(cfg, tmp_path, GOOD.encode("cp1252"))
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()[1:]}
    awa = User.get(User.username == "awa.traore")
    assert awa.role == "sage_femme" and awa.last_name == "Traoré" and awa.phone == "+22376123456"
    assert awa.must_change_password and verify_password(awa.password_hash, lines["awa.traore"])
    assert all(password not in caplog.text for password in lines.values())
    trail = " ".join(f"{entry.before} {entry.after} {entry.reason}" for entry in AuditEntry.select())
    assert all(password not in trail for password in lines.values())
    again = run(cfg, tmp_path, GOOD.encode())
    assert again.exit_code == 1 and "déjà utilisé" in again.output
