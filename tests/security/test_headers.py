"""Security headers (issue 16): a CSP without inline script, no framing, nosniff, nothing cached
from pages behind the login (a temporary password least of all); templates free of inline code."""

from __future__ import annotations

import re
from pathlib import Path

import appliance.emr

TEMPLATES = Path(appliance.emr.__file__).parent / "templates"


def _csp(response) -> dict[str, str]:
    policy = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


def test_every_page_forbids_inline_script_and_framing(client, login_as, store):
    admin = login_as("admin")
    for response in (client.get("/connexion"), admin.get("/"), admin.get("/admin/utilisateurs"),
                     admin.get("/nexiste-pas")):
        csp = _csp(response)
        assert csp["script-src"] == "script-src 'self'" and "unsafe" not in response.headers["Content-Security-Policy"]
        assert csp["frame-ancestors"] == "frame-ancestors 'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_page_showing_a_temporary_password_is_never_stored(login_as):
    admin = login_as("admin")
    sheet = admin.post("/admin/utilisateurs/nouveau", {"username": "bintou", "first_name": "Bintou",
                                                       "last_name": "Koné", "role": "sage_femme", "phone": "",
                                                       "language": "fr"})
    assert "Mot de passe provisoire" in sheet.text
    assert sheet.headers["Cache-Control"] == "no-store"
    assert admin.get("/").headers["Cache-Control"] == "no-store"  # nor any page behind the login


def test_static_files_stay_cacheable(client, store):
    assert "no-store" not in client.get("/static/app.css").headers.get("Cache-Control", "")


def test_templates_hold_no_inline_script_handler_or_style():
    found = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"\son[a-z]+\s*=", r"\sstyle\s*=", r"<style\b",
                        r"javascript:"):
            found += [f"{path.relative_to(TEMPLATES)}: {match}" for match in re.findall(pattern, text)]
    assert found == []
