"""The shell in real Chromium at 360 px: what a nurse's phone shows."""

import pytest

from tests.conftest import click_and_wait, screenshot, sign_in

pytestmark = pytest.mark.slow


def test_login_home_logout_on_a_phone(live_server, phone_page, make_user):
    make_user("sage_femme", username="kadiatou")
    page = phone_page
    page.goto(f"{live_server}/")
    assert page.url.startswith(f"{live_server}/connexion")
    assert page.locator("h1").inner_text() == "Connexion"
    screenshot(page, "login-360")

    page.fill("input[name=username]", "kadiatou")
    page.fill("input[name=password]", "mauvais")
    click_and_wait(page, "button[type=submit]")
    assert page.locator(".flash.error").inner_text() == "Identifiant ou mot de passe incorrect."

    sign_in(page, live_server, "kadiatou", on_login_page=True)
    assert page.locator("h1").inner_text() == "Aujourd'hui"
    assert "Sage-femme" in page.locator("main").inner_text()  # the greeting names the role
    # nothing wider than the phone: no horizontal scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "home-360")

    click_and_wait(page, "text=Se déconnecter")
    assert page.url.startswith(f"{live_server}/connexion")
    assert "Vous êtes déconnecté." in page.content()
