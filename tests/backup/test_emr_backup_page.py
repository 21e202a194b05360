"""The Backups page in the EMR: what the real backup functions recorded, the warnings that matter
(no verified copy for 48 h, a failed run and why), the staff instructions, and who may see it."""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
import sqlite3
import time
from datetime import UTC, timedelta

import pytest

from appliance.backup import offsite
from appliance.backup.local import run_backup, run_nightly_backup
from appliance.backup.log import BackupRun
from appliance.backup.status import cause_of
from appliance.backup.summary import DAY_S
from appliance.backup.usb import FolderUsbMedia
from appliance.emr import backup as backup_page
from appliance.outbox import Outbox
from tests.conftest import WebClient, click_and_wait, screenshot, sign_in

from .conftest import NO_STICK

MARKER = "appliance-backups"
URL = "/admin/sauvegardes/"


@pytest.fixture
def stick(tmp_path):
    """A prepared stick (its marker folder at the top), as it looks once mounted."""
    folder = tmp_path / "media" / "KINGSTON"
    (folder / MARKER).mkdir(parents=True)
    return folder


def visible_text(response) -> str:
    """The page as a person reads it: tags gone, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def local_time(cfg, run_row: BackupRun) -> str:
    moment = (run_row.finished_at or run_row.started_at).replace(tzinfo=UTC).astimezone(cfg.uploads.zone())
    return moment.strftime("%d/%m/%Y %H:%M")


def age_log(days: float) -> None:
    """The log as it reads ``days`` later: every recorded run moved back in time."""
    shift = timedelta(days=days)
    for row in BackupRun.select():
        row.started_at -= shift
        row.finished_at = row.finished_at - shift if row.finished_at else None
        row.save()


def test_the_page_shows_the_real_backup_and_stick_copy(login_as, cfg, live, stick, tmp_path, monkeypatch):
    run_backup(cfg, reason="manual", usb=NO_STICK)
    report = run_nightly_backup(cfg, usb=FolderUsbMedia([stick], MARKER))
    assert report.ok, report.problems
    unprepared = tmp_path / "media" / "PHOTOS"
    unprepared.mkdir()
    monkeypatch.setattr(backup_page, "usb_media_for", lambda _cfg: FolderUsbMedia([stick, unprepared], MARKER))

    page = login_as("admin").get(URL)
    assert page.status_code == 200
    text = visible_text(page)
    local = BackupRun.select().where(BackupRun.target == "local").order_by(BackupRun.id.desc()).first()
    usb = BackupRun.get(BackupRun.target == "usb")
    size = report.file.stat().st_size + report.file.with_name(
        report.file.name.replace(".db.gz", ".manifest.json")).stat().st_size
    assert local.bytes == usb.bytes == size
    assert f"Dernière sauvegarde (de nuit) : {local_time(cfg, local)}" in text
    assert f"Vérifiée · {backup_page.size_text(size)}" in text and "Contrôle d'intégrité SQLite réussi" in text
    assert "2 copies gardées sur la carte SD (au plus 10)" in text
    assert f"Dernière copie : {local_time(cfg, usb)} sur la clé « KINGSTON »" in text
    assert "KINGSTON : prête" in text
    assert f"PHOTOS : pas de dossier « {MARKER} » à sa racine" in text
    assert "Tout va bien : sauvegarde vérifiée de moins de 48 heures." in text
    assert "Non configurée : les copies ne quittent pas le centre" in text
    assert "la sauvegarde de nuit (05:30) y copie la base" in text  # the staff instructions
    assert 'class="flash error"' not in page.data.decode()
    home = login_as("medecin").get("/").data.decode()
    assert URL in home and "à vérifier" not in home


def test_no_verified_copy_for_48_hours_raises_the_alarm_and_the_home_badge(login_as, cfg, live):
    run_nightly_backup(cfg, usb=NO_STICK)
    web = login_as("admin")
    assert "à vérifier" not in web.get("/").data.decode()
    age_log(days=3)
    page = web.get(URL)
    text = visible_text(page)
    assert 'class="flash error"' in page.data.decode()
    assert re.search(r"La dernière sauvegarde vérifiée date de plus de 48 heures \(.+, il y a 72 h\)", text)
    assert "Clé USB absente lors de la dernière sauvegarde de nuit" in text  # recorded as skipped
    home = web.get("/").data.decode()
    assert re.search(r'href="/admin/sauvegardes/">Sauvegardes <span class="tag corrected">à vérifier</span>', home)


def test_a_failed_run_says_why_in_french(login_as, cfg, live, stick):
    run_nightly_backup(cfg, usb=FolderUsbMedia([stick], MARKER))
    full = shutil.disk_usage(cfg.paths.data_dir)._replace(free=200_000)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shutil, "disk_usage", lambda _path: full)  # the SD card as it is when full
        report = run_nightly_backup(cfg, usb=FolderUsbMedia([stick], MARKER))
    assert not report.ok and "espace disque insuffisant" in report.problems[0]
    page = login_as("medecin").get(URL)
    text = visible_text(page)
    assert 'class="flash error"' in page.data.decode()
    assert re.search(r"La dernière sauvegarde \(.+\) a échoué : carte SD pleine : plus assez de place", text)
    assert "Échec : carte SD pleine" in text and "0 Mo libres" in text  # the recorded detail
    assert "Dernière sauvegarde vérifiée :" in text  # the night before still counts as the last good copy
    assert "à vérifier" in login_as("admin").get("/").data.decode()


@pytest.mark.parametrize(("target", "status", "message", "cause"), [
    ("local", "failed", "sauvegarde impossible : espace disque insuffisant dans /d : 5 Mo libres", "disk_full"),
    ("local", "failed", "sauvegarde impossible : [Errno 28] No space left on device: '/d/x.db.gz'", "disk_full"),
    ("local", "failed", "sauvegarde impossible : contrôle d'intégrité SQLite en échec : page 3", "damaged"),
    ("usb", "failed", "copie sur la clé USB /media/K impossible : clé pleine (3 Mo libres)", "stick_full"),
    ("usb", "failed", "copie sur la clé USB /media/K impossible : la copie relue sur la clé diffère de "
                      "l'original (clé défectueuse ?)", "stick_bad"),
    ("usb", "failed", "copie sur la clé USB /media/K impossible : [Errno 5] Input/output error", "stick_removed"),
    ("usb", "failed", "copie sur la clé USB /media/K impossible : clé USB retirée pendant la copie (restic n'a pas "
                      "pu écrire sur la clé : restic arrêté : son dépôt n'est plus là (clé USB retirée ?))",
     "stick_removed"),
    ("usb", "failed", "copie sur la clé USB /media/K impossible : [Errno 30] Read-only file system", "read_only"),
    ("usb", "skipped", "aucune clé USB de sauvegarde branchée", "no_stick"),
    ("offsite", "failed", "dépôt de sauvegarde injoignable : dial tcp: connection refused", "link_down"),
    ("offsite", "failed", "le dépôt de sauvegarde refuse la clé provisionnée", "wrong_key"),
    ("offsite", "failed", "clé de la sauvegarde hors site absente (/etc/appliance/k) : elle vient du "
                          "provisionnement", "no_key"),
    ("offsite", "failed", "envoi interrompu : Fatal: unable to save snapshot", "interrupted"),
    ("offsite", "failed", "quelque chose de nouveau", "other"),
])
def test_each_recorded_failure_gets_a_cause_in_plain_french(target, status, message, cause):
    assert cause_of(BackupRun(target=target, status=status, message=message)) == cause
    assert cause in backup_page.CAUSES


def test_only_the_nightly_run_records_a_missing_stick(cfg, live):
    run_backup(cfg, reason="manual", usb=NO_STICK)
    run_nightly_backup(cfg, usb=NO_STICK)
    rows = sqlite3.connect(cfg.paths.database).execute(
        "SELECT reason, target, status, message FROM backup_run ORDER BY id").fetchall()
    assert [row[:3] for row in rows] == [("manual", "local", "ok"), ("nightly", "local", "ok"),
                                         ("nightly", "usb", "skipped")]
    assert "aucune clé USB" in rows[2][3]


@pytest.mark.parametrize("role", ["infirmier", "sage_femme", "matrone", "agent_saisie"])
def test_roles_without_the_permission_get_403_and_no_tile(login_as, role):
    web = login_as(role)
    assert web.get(URL).status_code == 403
    assert URL not in web.get("/").data.decode()


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302 and response.location.startswith("/connexion")


@pytest.mark.skipif(shutil.which("restic") is None, reason="restic (Debian package) is required")
def test_the_offsite_copy_shows_its_last_upload_and_its_last_error(cfg, live, make_user, tmp_path):
    from appliance.emr import create_app

    key = cfg.paths.secrets_dir / offsite.KEY_FILE_NAME
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text("clé-de-provisionnement-de-test\n")
    offsite_cfg = dataclasses.replace(cfg, backup=dataclasses.replace(
        cfg.backup, offsite_repository=str(tmp_path / "depot-distant"), offsite_every_days=1))
    unreachable = dataclasses.replace(offsite_cfg, backup=dataclasses.replace(
        offsite_cfg.backup, offsite_repository="rest:http://127.0.0.1:9/depot"))
    run_nightly_backup(offsite_cfg, usb=NO_STICK)
    Outbox(senders={offsite.KIND: offsite.OffsiteSender(offsite_cfg)}).flush()
    run_nightly_backup(offsite_cfg, usb=NO_STICK, now=time.time() + DAY_S)  # the next night
    Outbox(senders={offsite.KIND: offsite.OffsiteSender(unreachable)}).flush()  # the 3G link is down
    sent = BackupRun.get((BackupRun.target == "offsite") & (BackupRun.status == "ok"))
    assert sent.bytes > 0

    web = WebClient(create_app(offsite_cfg, testing=True).test_client())
    web.login(make_user("admin").username)
    text = visible_text(web.get(URL))
    assert f"Dernier envoi réussi : {local_time(cfg, sent)} · {backup_page.size_text(sent.bytes)} envoyés" in text
    assert "Dernière erreur (" in text and "serveur de sauvegarde injoignable (pas de connexion internet ?)" in text
    assert "en attente d'envoi : elle part à la prochaine fenêtre d'envoi" in text
    assert "Le dernier envoi hors site (" in text  # in the warnings, as a warning only
    assert "à vérifier" not in web.get("/").data.decode()


def test_sizes_read_the_french_way(app):
    with app.test_request_context():
        assert backup_page.size_text(820_400) == "820 Ko"
        assert backup_page.size_text(35_200_000) == "35,2 Mo"
        assert backup_page.size_text(0) == "0 Ko"



@pytest.mark.slow
def test_it_reads_on_a_phone_without_javascript(live_server, chromium, cfg, live, stick, make_user):
    run_backup(cfg, reason="manual", usb=NO_STICK)
    run_nightly_backup(cfg, usb=FolderUsbMedia([stick], MARKER))
    age_log(days=4)
    make_user("admin", username="admin.cscom")
    context = chromium.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR", java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, live_server, "admin.cscom")
        assert page.locator("h1").inner_text() == "Aujourd'hui"
        assert page.locator("a[href='/admin/sauvegardes/'] .tag").inner_text() == "à vérifier"
        click_and_wait(page, "a[href='/admin/sauvegardes/']")
        assert page.locator("h1").inner_text() == "Sauvegardes"
        assert "plus de 48 heures" in page.locator("[role=alert]").inner_text()
        page.click("text=Voir les copies")  # <details> opens without JavaScript
        assert page.locator("details li").count() == 2
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(page, "backup-status-360")
    finally:
        context.close()
