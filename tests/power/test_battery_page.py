"""The admin's Battery page in the EMR: current state, 7-day chart, data used, last windows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from appliance.store import readonly
from appliance.store.device import BatteryReading, DataUsage, UploadWindowLog


def add_readings(hours: int) -> None:
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    for step in range(hours * 6, 0, -1):
        BatteryReading.create(at=now - timedelta(minutes=10 * step), voltage=12.3 + (step % 6) / 10,
                              voltage_min=12.2, voltage_max=12.9, soc_pct=72, state="ok", charging=False,
                              samples=10, rejected=1 if step == 1 else 0)


def test_admins_see_the_battery_chart_data_and_windows(login_as, cfg):
    add_readings(48)
    DataUsage.create(month=datetime.now(UTC).astimezone(cfg.uploads.zone()).strftime("%Y-%m"),
                     bytes_sent=300_000_000, bytes_received=120_000_000, updated_at=datetime.now(UTC))
    stamp = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2)
    UploadWindowLog.create(scheduled_at=stamp, started_at=stamp, finished_at=stamp, outcome="partial",
                           detail="2 livré(s), 1 à réessayer ; fin : link_down", only_urgent=False, catch_up=True,
                           battery_state="ok", bytes_sent=1000, bytes_received=200)
    page = login_as("admin").get("/admin/batterie/")
    html = page.data.decode()
    assert page.status_code == 200
    assert "<svg" in html and "Tension de la batterie, 7 derniers jours" in html
    assert "état : bonne" in html and "charge estimée 72 %" in html
    assert "1 mesure(s) aberrante(s) écartée(s)" in html
    assert "420,0 Mo utilisés sur 500 Mo (84 %)" in html and "Plus de 80 % du forfait" in html
    assert "partielle (rattrapage)" in html and "link_down" in html
    assert "Pas de mesure récente" not in html


def test_the_page_says_when_the_agent_is_silent_and_when_writes_are_stopped(login_as, cfg):
    readonly.set_read_only(cfg.paths.data_dir, "batterie critique")
    html = login_as("admin").get("/admin/batterie/").data.decode()
    assert "Aucune mesure enregistrée" in html and "appliance-agent) est-il arrêté" in html
    assert "Batterie critique : l&#39;appareil s&#39;éteint" in html


def test_only_admins_open_it_and_the_home_page_links_it(login_as):
    assert login_as("infirmier").get("/admin/batterie/").status_code == 403
    assert "/admin/batterie/" in login_as("admin", username="admin2").get("/").data.decode()


def test_a_write_is_refused_while_the_read_only_flag_is_up(login_as, cfg):
    web = login_as("admin")
    readonly.set_read_only(cfg.paths.data_dir, "batterie critique")
    refused = web.post("/compte/mot-de-passe", {"current": "x", "new": "y", "confirm": "y"})
    assert refused.status_code == 503


def test_the_chart_volts_follow_the_readers_language(login_as):
    add_readings(24)
    axis = re.compile(r'text-anchor="end" fill="#374151">([0-9.,]+)</text>')
    french = axis.findall(login_as("admin").get("/admin/batterie/").data.decode())
    english = axis.findall(login_as("admin", username="admin.en", language="en").get("/admin/batterie/").data.decode())
    assert "12,5" in french and "12.5" in english
    assert not any("." in mark for mark in french) and not any("," in mark for mark in english)
