"""Provisioning input, the boot-partition file and first boot on this machine (fast, no image)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance import config as config_module
from appliance.cli import main
from appliance.provision import ownership
from appliance.provision.card import boot_partition_offset, read_from_image, write_to_target
from appliance.provision.first_boot import Targets, apply, wpa_psk
from appliance.provision.model import PROVISION_FILE, TECHNICIAN_USER, ProvisionError, Provisioning
from appliance.provision.sheet import take_sheet

GOOD = Provisioning(
    site_id="cscom-kati-01",
    facility_name="CSCom de Kati",
    dhis2_org_unit="DiszpKrYNg8",
    wifi_passphrase="kati-wifi-2024",
    mqtt_password="mqtt-secret-123",
    modem_apn="internet",
    mqtt_username="cscom-kati-01",
)


def test_valid_input_has_no_problem() -> None:
    assert GOOD.problems() == []
    assert GOOD.ssid == "Dossier-cscom-kati-01"
    assert dataclasses.replace(GOOD, mqtt_username="").mqtt_user == "cscom-kati-01"


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("site_id", "CSCom Kati", "Identifiant du site"),
        ("site_id", "x", "Identifiant du site"),
        ("facility_name", " ", "Nom de l'établissement"),
        ("dhis2_org_unit", "1iszpKrYNg8", "Unité d'organisation DHIS2"),
        ("dhis2_org_unit", "DiszpKrYNg", "Unité d'organisation DHIS2"),
        ("wifi_passphrase", "1234567", "Mot de passe WiFi"),
        ("wifi_passphrase", "a" * 64, "Mot de passe WiFi"),
        ("wifi_passphrase", "café-au-lait", "Mot de passe WiFi"),
        ("mqtt_password", "short", "Mot de passe MQTT"),
        ("mqtt_username", "user name", "Identifiant MQTT"),
        ("modem_apn", "orange ml", "Point d'accès (APN)"),
        ("wifi_ssid", "x" * 33, "Nom du réseau WiFi"),
        ("dhis2_url", "https://dhis2.sante.gov.ml/api", "Adresse DHIS2"),
        ("dhis2_token", "not-a-token", "Jeton DHIS2"),
        ("ssh_public_key", "-----BEGIN OPENSSH PRIVATE KEY-----", "Clé SSH publique"),
        ("mqtt_broker", "mqtt://broker", "Serveur MQTT"),
    ],
)
def test_bad_field_is_refused_with_a_french_message_naming_it(field: str, value: str, named: str) -> None:
    problems = dataclasses.replace(GOOD, **{field: value}).problems()
    assert len(problems) == 1
    assert problems[0].startswith(named)


def test_wifi_passphrase_limits_are_wpa2s() -> None:
    assert dataclasses.replace(GOOD, wifi_passphrase="a" * 12).problems() == []
    assert dataclasses.replace(GOOD, wifi_passphrase="a" * 11).problems() != []
    assert dataclasses.replace(GOOD, wifi_passphrase="a" * 63).problems() == []


def test_wpa_psk_matches_the_ieee_802_11i_test_vector() -> None:
    # IEEE 802.11i-2004, annex H.4.1: passphrase "password", SSID "IEEE".
    assert wpa_psk("password", "IEEE") == "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"


def boot_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "boot"
    folder.mkdir()
    (folder / "config.txt").write_text("arm_64bit=1\n")
    return folder


def test_cli_refuses_bad_input_and_writes_nothing(tmp_path: Path) -> None:
    boot = boot_dir(tmp_path)
    result = CliRunner().invoke(main, [
        "provision", "write", str(boot), "--site-id", "cscom-kati-01", "--facility-name", "CSCom de Kati",
        "--dhis2-org-unit", "bad", "--wifi-passphrase", "short", "--mqtt-password", "mqtt-secret-123",
        "--mqtt-username", "cscom-kati-01", "--modem-apn", "internet",
    ])
    assert result.exit_code == 2
    assert "Unité d'organisation DHIS2" in result.output
    assert "Mot de passe WiFi" in result.output
    assert not (boot / PROVISION_FILE).exists()


def test_cli_prompts_for_what_is_missing(tmp_path: Path) -> None:
    boot = boot_dir(tmp_path)
    answers = "cscom-kati-01\nCSCom de Kati\nDiszpKrYNg8\nkati-wifi-2024\nkati-wifi-2024\n\nmqtt-secret-123\n" \
              "mqtt-secret-123\n\n"
    result = CliRunner().invoke(main, ["provision", "write", str(boot)], input=answers)
    assert result.exit_code == 0, result.output
    written = (boot / PROVISION_FILE).read_text()
    assert 'modem_apn = "internet"' in written
    assert 'mqtt_username = "cscom-kati-01"' in written
    assert stat.S_IMODE((boot / PROVISION_FILE).stat().st_mode) == 0o600
    assert "ssh technicien@10.42.0.1 sudo appliance provision sheet" in result.output


def test_a_folder_that_is_not_a_boot_partition_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="pas la partition de démarrage"):
        write_to_target(GOOD, tmp_path)


def test_a_compressed_image_is_refused_with_the_fix(tmp_path: Path) -> None:
    image = tmp_path / "clinic.img.xz"
    image.write_bytes(b"\xfd7zXZ\0")
    with pytest.raises(ProvisionError, match="décompressez"):
        write_to_target(GOOD, image)


def first_boot(tmp_path: Path, provisioning: Provisioning = GOOD) -> tuple[Targets, Path]:
    boot = boot_dir(tmp_path) if not (tmp_path / "boot").exists() else tmp_path / "boot"
    root = tmp_path / "root"
    hostapd = root / "etc/hostapd/hostapd.conf"
    hostapd.parent.mkdir(parents=True, exist_ok=True)
    if not hostapd.exists():
        hostapd.write_text("interface=wlan0\nssid=Dossier-Clinique\nwpa_psk_file=/etc/appliance/secrets/wifi.psk\n")
    write_to_target(provisioning, boot)
    targets = dataclasses.replace(Targets().under(root), boot_dir=boot)
    apply(targets)
    return targets, boot


def test_first_boot_moves_settings_generates_secrets_and_erases_the_boot_file(tmp_path: Path) -> None:
    targets, boot = first_boot(tmp_path)
    assert not (boot / PROVISION_FILE).exists()
    cfg = config_module.load(targets.config_file)
    assert (cfg.site.id, cfg.site.name) == ("cscom-kati-01", "CSCom de Kati")
    assert cfg.dhis2.org_unit == "DiszpKrYNg8"
    assert cfg.modem.apn == "internet"
    assert cfg.telemetry.username == "cscom-kati-01"
    for name in ("mqtt_password", "wifi.psk", "flask_secret_key"):
        assert stat.S_IMODE((targets.secrets_dir / name).stat().st_mode) == 0o600
    assert (targets.secrets_dir / "mqtt_password").read_text().strip() == GOOD.mqtt_password
    psk = wpa_psk(GOOD.wifi_passphrase, GOOD.ssid)
    assert (targets.secrets_dir / "wifi.psk").read_text() == f"00:00:00:00:00:00 {psk}\n"
    assert "ssid=Dossier-cscom-kati-01\n" in targets.hostapd_conf.read_text()
    # Only the secrets folder (and the one-time sheet) hold the passwords.
    config_text = targets.config_file.read_text()
    assert GOOD.mqtt_password not in config_text and GOOD.wifi_passphrase not in config_text


def test_the_sheet_shows_the_admin_password_once_and_it_logs_in(tmp_path: Path) -> None:
    from appliance import accounts
    from appliance.store import open_and_migrate
    from appliance.store.db import database
    from appliance.store.models import User

    targets, _ = first_boot(tmp_path)
    sheet = take_sheet(targets.data_dir)
    assert sheet is not None and GOOD.wifi_passphrase in sheet
    assert take_sheet(targets.data_dir) is None
    password = sheet.split("Mot de passe provisoire</th><td><code>")[1].split("<")[0]
    database.initialize(open_and_migrate(config_module.load(targets.config_file).paths.database))
    try:
        admin = User.get(User.username == "admin")
        assert admin.role == "admin" and admin.must_change_password
        assert accounts.verify_password(admin.password_hash, password)
    finally:
        database.close()


def test_the_sheet_carries_the_usb_stick_key_which_provisioning_again_keeps(tmp_path: Path) -> None:
    targets, boot = first_boot(tmp_path)
    key_file = targets.secrets_dir / "usb_backup_key"
    key = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){5}", key)
    sheet = take_sheet(targets.data_dir)
    assert f"Clé des sauvegardes USB</th><td><code>{key}</code>" in sheet
    assert "clé des sauvegardes USB" in sheet  # what it is for
    write_to_target(dataclasses.replace(GOOD, wifi_passphrase="nouveau-mot-2025"), boot)
    apply(targets)
    assert key_file.read_text().strip() == key  # the sticks already written stay readable


def test_provisioning_again_changes_the_wifi_but_keeps_the_admin(tmp_path: Path) -> None:
    targets, boot = first_boot(tmp_path)
    assert take_sheet(targets.data_dir) is not None
    changed = dataclasses.replace(GOOD, wifi_passphrase="nouveau-mot-2025", wifi_ssid="CSCom Kati")
    write_to_target(changed, boot)
    result = apply(targets)
    assert not result.admin_created and result.sheet is None
    assert "ssid=CSCom Kati\n" in targets.hostapd_conf.read_text()
    assert wpa_psk("nouveau-mot-2025", "CSCom Kati") in (targets.secrets_dir / "wifi.psk").read_text()


TECHNICIAN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1bq6pcbZ0Yq2o7v1XWm0dA4sJrS3xk0p0nWb8Zr2F technicien@portable"
SPARE_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFh2c2B2n7m0l1z9pQ3aR6yT4uV8wX5cD2eF1gH0iJ9k technicien@secours"


def test_the_technician_s_key_goes_to_his_own_account_never_to_root(tmp_path: Path, monkeypatch) -> None:
    # Handing the files to another user needs root (CI runs as root); elsewhere only paths and modes are checked.
    technician_ids = (4242, 4343) if os.geteuid() == 0 else None
    monkeypatch.setattr(ownership, "user_ids", lambda name: technician_ids if name == TECHNICIAN_USER else None)
    targets, boot = first_boot(tmp_path, dataclasses.replace(GOOD, ssh_public_key=TECHNICIAN_KEY + "\n"))
    assert targets.ssh_dir == tmp_path / "root/home/technicien/.ssh"
    keys = targets.ssh_dir / "authorized_keys"
    assert keys.read_text() == TECHNICIAN_KEY + "\n"
    assert not (tmp_path / "root/root").exists()
    # sshd's StrictModes: the folder and the file are the technician's and nobody else's.
    for path, mode in ((targets.ssh_dir, 0o700), (keys, 0o600)):
        info = path.stat()
        assert stat.S_IMODE(info.st_mode) == mode
        if technician_ids:
            assert (info.st_uid, info.st_gid) == technician_ids
    # Provisioning again with a spare key adds it; the same key twice is kept once.
    for key in (SPARE_KEY, TECHNICIAN_KEY):
        write_to_target(dataclasses.replace(GOOD, ssh_public_key=key), boot)
        apply(targets)
    assert keys.read_text() == f"{TECHNICIAN_KEY}\n{SPARE_KEY}\n"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="running as another user needs root and util-linux's setpriv")
def test_the_sheet_without_sudo_says_to_use_sudo(tmp_path: Path) -> None:
    targets, _ = first_boot(tmp_path)
    targets.data_dir.chmod(0o750)  # as on the Pi: the service user's folder, closed to the technician
    nobody = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             str(Path(sys.executable).parent / "appliance"),
                             "provision", "sheet", "--data-dir", str(targets.data_dir)],
                            capture_output=True, text=True)
    assert nobody.returncode == 1
    assert "sudo appliance provision sheet" in nobody.stderr
    assert take_sheet(targets.data_dir) is not None, "a refused reading must not erase the sheet"


def test_a_damaged_boot_file_is_refused_and_kept(tmp_path: Path) -> None:
    boot = boot_dir(tmp_path)
    (boot / PROVISION_FILE).write_text('format = 1\nsite_id = "cscom-kati-01"\n')
    targets = dataclasses.replace(Targets().under(tmp_path / "root"), boot_dir=boot)
    with pytest.raises(ProvisionError, match="champ\\(s\\) manquant\\(s\\)"):
        apply(targets)
    assert (boot / PROVISION_FILE).exists()
    assert not targets.config_file.exists()


@pytest.mark.skipif(shutil.which("mcopy") is None or shutil.which("mkfs.vfat") is None,
                    reason="mtools and dosfstools are listed in .ci/apt-packages.txt")
def test_write_into_an_img_file_without_mounting(tmp_path: Path) -> None:
    """A small MBR disk with a FAT partition at 1 MiB, like the real image's first partition."""
    part = tmp_path / "boot.vfat"
    subprocess.run(["mkfs.vfat", "-F", "32", "-n", "RASPIFIRM", "-C", str(part), str(33 * 1024)],
                   check=True, capture_output=True)
    image = tmp_path / "card.img"
    image.write_bytes(b"")
    with image.open("r+b") as handle:
        handle.truncate(40 * 1024 * 1024)
    subprocess.run(["sfdisk", "--quiet", str(image)], input="label: dos\nstart=2048, size=67584, type=c\n",
                   text=True, check=True)
    subprocess.run(["dd", f"if={part}", f"of={image}", "bs=1M", "seek=1", "conv=notrunc", "status=none"],
                   check=True)
    assert boot_partition_offset(image) == 1024 * 1024
    assert read_from_image(image) is None
    write_to_target(GOOD, image)
    text = read_from_image(image)
    assert text is not None and 'site_id = "cscom-kati-01"' in text
    # The FAT filesystem is still clean after mtools wrote into it.
    subprocess.run(["dd", f"if={image}", f"of={part}", "bs=1M", "skip=1", "count=33", "status=none"], check=True)
    subprocess.run(["fsck.vfat", "-n", str(part)], check=True, capture_output=True)


# ---------------------------------------------------------------------------------------------- backup, modem

OFFSITE_KEY = "q7Vd2-backup-key-of-kati-0123456789"
WITH_BACKUP = dataclasses.replace(
    GOOD, offsite_repository="sftp:sauvegarde@sauvegarde.sante.gov.ml:/srv/restic/cscom-kati-01",
    offsite_key=OFFSITE_KEY, modem_apn_user="orange", modem_apn_password="orange-web")


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"modem_apn_user": "orange,ml"}, "Identifiant APN du modem"),
        ({"modem_apn_user": "été"}, "Identifiant APN du modem"),
        ({"modem_apn_user": "x" * 65}, "Identifiant APN du modem"),
        ({"modem_apn_password": "pass=word"}, "Mot de passe APN du modem"),
        ({"modem_apn_password": " orange"}, "Mot de passe APN du modem"),
        ({"modem_apn_user": "", "modem_apn_password": "orange"}, "Mot de passe APN du modem"),
        ({"offsite_repository": "serveur:/srv/restic"}, "Dépôt de la sauvegarde hors site"),
        ({"offsite_repository": "sftp:sauvegarde@serveur:/srv/mon dépôt"}, "Dépôt de la sauvegarde hors site"),
        ({"offsite_repository": "rest:https://kati:secret@serveur/kati/"}, "Dépôt de la sauvegarde hors site"),
        ({"offsite_key": ""}, "Clé de la sauvegarde hors site"),
        ({"offsite_key": "trop-courte"}, "Clé de la sauvegarde hors site"),
        ({"offsite_key": "clé-avec-accent-1234567"}, "Clé de la sauvegarde hors site"),
    ],
)
def test_bad_backup_or_apn_input_is_refused_naming_the_field(changes: dict, named: str) -> None:
    problems = dataclasses.replace(WITH_BACKUP, **changes).problems()
    assert len(problems) == 1, problems
    assert problems[0].startswith(named)


def test_backup_and_apn_credentials_are_optional() -> None:
    assert WITH_BACKUP.problems() == []
    assert dataclasses.replace(WITH_BACKUP, modem_apn_password="").problems() == []
    assert dataclasses.replace(WITH_BACKUP, offsite_repository="rest:https://sauvegarde.sante.gov.ml/kati/",
                               ).problems() == []
    # A key alone is kept for a repository configured later.
    assert dataclasses.replace(GOOD, offsite_key=OFFSITE_KEY).problems() == []


def test_first_boot_installs_the_offsite_key_repository_and_apn(tmp_path: Path) -> None:
    from appliance.backup import offsite

    targets, boot = first_boot(tmp_path, WITH_BACKUP)
    cfg = config_module.load(targets.config_file)
    assert cfg.backup.offsite_repository == WITH_BACKUP.offsite_repository
    assert (cfg.modem.apn, cfg.modem.apn_user, cfg.modem.apn_password) == ("internet", "orange", "orange-web")
    key = offsite.key_file(cfg)
    assert key == targets.secrets_dir / "offsite_backup_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text() == OFFSITE_KEY + "\n"
    assert OFFSITE_KEY not in targets.config_file.read_text()
    assert offsite.enabled(cfg)
    # Provisioning again without the key (new WiFi, say) keeps the one installed.
    write_to_target(dataclasses.replace(GOOD, wifi_passphrase="nouveau-mot-2025"), boot)
    apply(targets)
    assert key.read_text() == OFFSITE_KEY + "\n"
    assert not config_module.load(targets.config_file).backup.offsite_repository


def test_cli_takes_the_offsite_key_from_a_file_or_asks_for_it(tmp_path: Path) -> None:
    common = ["--site-id", "cscom-kati-01", "--facility-name", "CSCom de Kati", "--dhis2-org-unit", "DiszpKrYNg8",
              "--wifi-passphrase", "kati-wifi-2024", "--mqtt-username", "cscom-kati-01",
              "--mqtt-password", "mqtt-secret-123", "--modem-apn", "internet",
              "--modem-apn-user", "orange", "--modem-apn-password", "orange-web",
              "--offsite-repository", WITH_BACKUP.offsite_repository]
    key_file = tmp_path / "cle-kati.txt"
    key_file.write_text(OFFSITE_KEY + "\r\n")
    boot = boot_dir(tmp_path)
    result = CliRunner().invoke(main, ["provision", "write", str(boot), *common, "--offsite-key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    written = Provisioning.from_document(tomllib.loads((boot / PROVISION_FILE).read_text()), "test")
    assert written == WITH_BACKUP

    (boot / PROVISION_FILE).unlink()
    typed = CliRunner().invoke(main, ["provision", "write", str(boot), *common], input="court\ncourt\n")
    assert typed.exit_code == 2 and "Clé de la sauvegarde hors site" in typed.output
    assert not (boot / PROVISION_FILE).exists()
    typed = CliRunner().invoke(main, ["provision", "write", str(boot), *common],
                               input=f"{OFFSITE_KEY}\n{OFFSITE_KEY}\n")
    assert typed.exit_code == 0, typed.output
    assert f'offsite_key = "{OFFSITE_KEY}"' in (boot / PROVISION_FILE).read_text()


# ---------------------------------------------------------------------------------------------- sftp key


def server_host_key(tmp_path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "hote")], check=True)
    return (tmp_path / "hote.pub").read_text().strip()


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="openssh-client is required")
def test_first_boot_makes_the_box_s_ssh_key_and_the_sheet_gives_its_public_half(tmp_path: Path) -> None:
    from appliance.backup import offsite, sftp

    host_key = server_host_key(tmp_path)
    provisioning = dataclasses.replace(WITH_BACKUP, offsite_host_key=host_key)
    targets, boot = first_boot(tmp_path, provisioning)
    private = targets.secrets_dir / "offsite_ssh_key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    key = sftp.read_public_key(targets.secrets_dir)
    assert key.line.endswith(" appliance@cscom-kati-01")
    cfg = config_module.load(targets.config_file)
    assert cfg.backup.offsite_host_key == " ".join(host_key.split()[:2])
    assert (targets.secrets_dir / "offsite_known_hosts").read_text() == \
        f"sauvegarde.sante.gov.ml {cfg.backup.offsite_host_key}\n"
    assert "StrictHostKeyChecking=yes" in offsite.sftp.restic_options(
        cfg.backup.offsite_repository, cfg.paths.secrets_dir, cfg.backup.offsite_host_key)[1]

    sheet = CliRunner().invoke(main, ["provision", "sheet", "--data-dir", str(targets.data_dir)])
    assert sheet.exit_code == 0, sheet.output
    lines = dict(line.split(None, 1) for line in sheet.output.replace("Ligne pour authorized_keys", "ligne")
                 .replace("Empreinte de la clé SSH", "empreinte").replace("Clé d'hôte du serveur", "hote")
                 .splitlines() if line.split(None, 1)[0] in ("ligne", "empreinte", "hote"))
    assert lines["ligne"].strip() == f'restrict,command="internal-sftp" {key.line}'
    assert lines["empreinte"].strip() == key.fingerprint
    assert lines["hote"].strip() == f"épinglée : {sftp.fingerprint(host_key)}"
    shown = CliRunner().invoke(main, ["backup", "offsite-ssh-key", "--config", str(targets.config_file)])
    assert shown.exit_code == 0 and key.authorized_keys_line in shown.output, shown.output

    # Provisioning again keeps the key the server trusts; without a pinned key, first contact decides.
    write_to_target(WITH_BACKUP, boot)
    apply(targets)
    assert sftp.read_public_key(targets.secrets_dir) == key
    assert not config_module.load(targets.config_file).backup.offsite_host_key


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="openssh-client is required")
def test_the_key_is_made_even_without_an_off_site_repository(tmp_path: Path) -> None:
    targets, _ = first_boot(tmp_path)
    assert (targets.secrets_dir / "offsite_ssh_key").is_file()
    assert not (targets.secrets_dir / "offsite_known_hosts").exists()
    sheet = take_sheet(targets.data_dir)
    assert "Ligne pour authorized_keys" in sheet and "Clé d'hôte du serveur" not in sheet


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="openssh-client is required")
@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"offsite_repository": "sftp://sauvegarde@serveur:99999//srv/kati"}, "Dépôt de la sauvegarde hors site"),
        ({"offsite_repository": "sftp:-oProxyCommand=x:/srv"}, "Dépôt de la sauvegarde hors site"),
        ({"offsite_host_key": "ssh-ed25519 AAAAtronquée"}, "Clé d'hôte du serveur de sauvegarde"),
        ({"offsite_repository": "rest:https://serveur/kati/", "offsite_host_key": "HOST"},
         "Clé d'hôte du serveur de sauvegarde"),
        ({"offsite_repository": "", "offsite_key": "", "offsite_host_key": "HOST"},
         "Clé d'hôte du serveur de sauvegarde"),
    ],
)
def test_bad_sftp_repository_or_host_key_is_refused_naming_the_field(tmp_path: Path, changes: dict,
                                                                     named: str) -> None:
    host_key = server_host_key(tmp_path)
    changes = {name: host_key if value == "HOST" else value for name, value in changes.items()}
    problems = dataclasses.replace(WITH_BACKUP, **changes).problems()
    assert len(problems) == 1, problems
    assert problems[0].startswith(named)


def test_simulated_hardware_switches_the_agent_to_its_simulation_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "pi").mkdir()
    (tmp_path / "bench").mkdir()
    assert config_module.load(first_boot(tmp_path / "pi")[0].config_file).simulation is False
    targets, _ = first_boot(tmp_path / "bench", dataclasses.replace(GOOD, hardware="simulation"))
    cfg = config_module.load(targets.config_file)
    assert cfg.simulation is True and cfg.site.id == GOOD.site_id
    assert "Matériel : « simulation » ou rien" in "\n".join(dataclasses.replace(GOOD, hardware="oui").problems())


def test_cli_writes_simulated_hardware_only_when_asked(tmp_path: Path) -> None:
    boot = boot_dir(tmp_path)
    arguments = ["provision", "write", str(boot), "--site-id", "cscom-kati-01", "--facility-name", "CSCom de Kati",
                 "--dhis2-org-unit", "DiszpKrYNg8", "--wifi-passphrase", "kati-wifi-2024", "--mqtt-username", "k",
                 "--mqtt-password", "mqtt-secret-123", "--modem-apn", "internet"]
    assert CliRunner().invoke(main, arguments).exit_code == 0
    assert "hardware" not in (boot / PROVISION_FILE).read_text()
    assert CliRunner().invoke(main, [*arguments, "--simulated-hardware"]).exit_code == 0
    assert 'hardware = "simulation"' in (boot / PROVISION_FILE).read_text()
