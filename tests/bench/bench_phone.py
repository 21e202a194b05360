"""A staff day on a cheap phone: Chromium at 360 × 740 with its CPU throttled 6× (a low-end
Android), against a real ``appliance web`` process.

- phone_home_ms, phone_chart_ms, phone_visit_form_ms: median time from navigation to usable (the
  load event's end: painted, styles and scripts run) over 5 loads, each ≤ 1,000 ms; the bare
  login page is measured in the same run as the reference (phone_login_ms).
- page_kb_max: the largest page (its HTML, styles and scripts, gzip-compressed, as a 3G stick or
  a weak WiFi carries them) among the main pages, ≤ 60 KB; phone_outside_requests: requests that
  left the box (must be 0).
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import statistics
import tempfile
from pathlib import Path

from tests.bench.support import free_port, web_process, write_config

PASSWORD = "bench-pass-1"
CHROMIUM = "/usr/bin/chromium"
LOADS = 5


def _record(cfg) -> tuple[int, int]:
    """A mother and her 10-month-old with a year of visits: a chart as long as a real one."""
    from appliance import hooks
    from appliance.patients.models import AntenatalVisit, Consultation, GrowthMeasurement, Immunisation
    from appliance.patients.registry import Identity, register_patient
    from appliance.patients.visits import record_visit
    from appliance.store.audit import system_actor
    from appliance.wiring import record_hooks

    actor = system_actor("bench")
    today = dt.date.today()
    with hooks.installed_for(record_hooks()):
        mother = register_patient(actor, Identity(family_name="Traoré", first_names="Awa", sex="F",
                                                  birth_date=dt.date(1996, 3, 2), village="Pelengana",
                                                  phone="76123456", household_name="Famille Traoré"),
                                  site_id=cfg.site.id)
        child = register_patient(actor, Identity(family_name="Traoré", first_names="Issa", sex="M",
                                                 birth_date=today - dt.timedelta(days=300), village="Pelengana",
                                                 mother=mother), site_id=cfg.site.id)
        for weeks in (0, 6, 10, 14):
            for antigen, number in (("PENTA", weeks // 4), ("VPO", weeks // 4), ("PCV", weeks // 4)):
                if number:
                    record_visit(actor, child, Immunisation(visit_date=child.birth_date + dt.timedelta(weeks=weeks),
                                                            antigen=antigen, dose_number=min(number, 3)))
        for month in range(1, 10):
            record_visit(actor, child, GrowthMeasurement(visit_date=child.birth_date + dt.timedelta(days=30 * month),
                                                         weight_kg=3.4 + 0.6 * month, height_cm=50 + 2 * month,
                                                         position="couche"))
        for month in range(3):
            record_visit(actor, child, Consultation(visit_date=today - dt.timedelta(days=60 + 20 * month),
                                                    reason="Fièvre", temperature_c=38.5, diagnosis_code="B50.9"))
        record_visit(actor, mother, AntenatalVisit(visit_date=today - dt.timedelta(days=20), gestational_age_weeks=14))
    return mother.id, child.id


def _page_bytes(context, base: str, path: str) -> int:
    """The page as a first visit carries it: its HTML and the styles, scripts and images it links, gzip."""
    html = context.request.get(base + path).body()
    total = len(gzip.compress(html, 6))
    for link in set(re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)):
        total += len(gzip.compress(context.request.get(base + link.decode()).body(), 6))
    return total


def _usable_ms(page, url: str) -> float:
    page.goto(url, wait_until="load")
    return page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                         " return n.loadEventEnd - n.startTime; })()")


def run() -> dict:
    from playwright.sync_api import sync_playwright

    from appliance import config as config_module
    from appliance.accounts import create_user
    from appliance.store import open_and_migrate
    from appliance.store.audit import system_actor
    from tests.conftest import sign_in

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config_path = write_config(Path(tmp), port=port)
        cfg = config_module.load(config_path)
        db = open_and_migrate(cfg.paths.database)
        create_user(system_actor("bench"), username="bench", first_name="B", last_name="B", role="infirmier",
                    password=PASSWORD, must_change_password=False)
        mother_id, child_id = _record(cfg)
        db.close()
        base = f"http://127.0.0.1:{port}"
        pages = {"phone_login_ms": "/connexion", "phone_home_ms": "/", "phone_chart_ms": f"/patients/{child_id}",
                 "phone_visit_form_ms": f"/patients/{child_id}/consultation/nouveau"}
        weighed = ["/", f"/patients/{child_id}", f"/patients/{mother_id}", f"/patients/{child_id}/consultation/nouveau",
                   f"/patients/{mother_id}/cpn/nouveau", f"/patients/{child_id}/vaccins/seance",
                   f"/patients/{child_id}/vaccins/carte", "/a-revoir", "/a-revoir?programme=tous", "/alertes",
                   "/patients/?q=traore", "/patients/nouveau"]
        figures: dict[str, float] = {}
        with web_process(config_path, port), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            context = browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
            page = context.new_page()
            outside: list[str] = []
            bodies: dict[str, int] = {}
            page.on("request", lambda request: outside.append(request.url)
                    if not request.url.startswith(base) and not request.url.startswith("data:") else None)
            sign_in(page, base, "bench", PASSWORD, wait_for_home=True)
            cdp = context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 6})
            for key, path in pages.items():
                if key == "phone_login_ms":
                    continue
                _usable_ms(page, base + path)  # warm: the server's caches, the static files
                figures[key] = round(statistics.median(_usable_ms(page, base + path) for _ in range(LOADS)))
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
            for path in weighed:
                bodies[path] = _page_bytes(context, base, path)
            anonymous = browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR").new_page()
            cdp = anonymous.context.new_cdp_session(anonymous)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 6})
            _usable_ms(anonymous, base + pages["phone_login_ms"])
            figures["phone_login_ms"] = round(statistics.median(
                _usable_ms(anonymous, base + pages["phone_login_ms"]) for _ in range(LOADS)))
            browser.close()
    heaviest = max(bodies, key=bodies.get)
    return {**figures, "page_kb_max": round(bodies[heaviest] / 1024, 1), "page_kb_max_page": heaviest,
            "phone_outside_requests": len(outside)}


if __name__ == "__main__":
    print(run())
