"""Crawl every registered route: none opens without login, none accepts a POST without CSRF."""

import re
from types import SimpleNamespace

import pytest

from appliance.emr.security import PUBLIC_ENDPOINTS


def _sample_url(rule) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", "1", rule.rule)


def _rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint not in PUBLIC_ENDPOINTS]


def test_every_route_needs_a_login(app, client):
    rules = _rules(app)
    assert len(rules) >= 8
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.raw.open(_sample_url(rule), method=method)
            if method == "GET":
                assert response.status_code == 302, rule.rule
                assert "/connexion" in response.location, rule.rule
            else:
                assert response.status_code in (302, 400), (rule.rule, method)


def test_every_post_without_csrf_is_refused_even_logged_in(app, login_as):
    web = login_as("admin")
    posts = [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods]
    assert posts
    for rule in posts:
        response = web.raw.post(_sample_url(rule), data={"anything": "x"})
        assert response.status_code == 400, rule.rule
        assert "Formulaire expiré" in response.text


def test_every_view_declares_a_permission(app):
    for endpoint, view in app.view_functions.items():
        if endpoint not in PUBLIC_ENDPOINTS:
            assert hasattr(view, "permission"), endpoint


def test_a_view_without_permission_stops_the_app(cfg, store):
    from flask import Blueprint

    from appliance import emr, hooks

    rogue = Blueprint("rogue", __name__)
    rogue.add_url_rule("/rogue", "page", lambda: "secret")
    original = emr._areas
    emr._areas = lambda: [*original(), SimpleNamespace(bp=rogue)]
    try:
        with hooks.installed_for(hooks.installed()), pytest.raises(RuntimeError, match=r"rogue\.page"):
            emr.create_app(cfg, testing=True)
    finally:
        emr._areas = original


def test_static_and_login_are_public(client):
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/connexion").status_code == 200


def test_pages_need_nothing_from_the_internet(login_as):
    web = login_as("admin")
    for url in ("/", "/admin/utilisateurs", "/admin/journal", "/connexion"):
        html = web.get(url).text
        assert not re.search(r'(src|href)="(https?:)?//', html), url
