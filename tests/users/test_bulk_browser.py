"""Bulk accounts in real Chromium at 360 px: upload, see the errors, fix, create, print the sheet."""

from __future__ import annotations

import pytest

from tests.conftest import click_and_wait, screenshot, sign_in

pytestmark = pytest.mark.slow

BAD = "identifiant;prenom;nom;role;telephone\r\nawa.traore;Awa;Traoré;nurse;76 12 34 56\r\n"
FIXED = "identifiant;prenom;nom;role;telephone\r\nawa.traore;Awa;Traoré;sage_femme;76 12 34 56\r\n"


def test_upload_fix_and_create_on_a_phone(live_server, phone_page, make_user, tmp_path):
    make_user("admin", username="chef")
    page = phone_page
    sign_in(page, live_server, "chef")
    click_and_wait(page, "text=Comptes : import CSV, remplacements")
    assert page.locator("h1").inner_text() == "Comptes en masse"

    bad = tmp_path / "comptes.csv"
    bad.write_bytes(BAD.encode("cp1252"))
    page.set_input_files("input[name=fichier]", str(bad))
    click_and_wait(page, "text=Vérifier le fichier")
    assert "rôle inconnu « nurse »" in page.locator("table.staging").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "bulk-users-staging-360")

    fixed = tmp_path / "comptes-corrige.csv"
    fixed.write_bytes(FIXED.encode("cp1252"))
    page.set_input_files("input[name=fichier]", str(fixed))
    click_and_wait(page, "text=Envoyer le fichier corrigé")
    click_and_wait(page, "text=Créer le compte")
    assert page.locator("h1").inner_text() == "Identifiants à remettre"
    assert "awa.traore" in page.locator(".sheet").inner_text()
    screenshot(page, "bulk-users-credentials-360")
