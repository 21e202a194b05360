"""First boot (appliance-firstboot.service, as root): the settings moved to /etc/appliance, the
secrets generated, the first admin and the sheet; every step can be re-run after a power cut."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import tomli_w

from appliance.provision import ownership
from appliance.provision.model import (
    HARDWARE_SIMULATION,
    PROVISION_FILE,
    SHEET_FILE,
    TECHNICIAN_USER,
    ProvisionError,
    Provisioning,
)
from appliance.provision.sheet import write_sheet

if TYPE_CHECKING:
    from appliance.backup.sftp import PublicKey


@dataclass(frozen=True)
class Targets:
    """Where first boot writes on the Pi; ``under(root)`` moves them all for tests."""

    boot_dir: Path = Path("/boot/firmware")
    config_file: Path = Path("/etc/appliance/appliance.toml")
    secrets_dir: Path = Path("/etc/appliance/secrets")
    data_dir: Path = Path("/var/lib/appliance")
    hostapd_conf: Path = Path("/etc/hostapd/hostapd.conf")
    ssh_dir: Path = Path(f"/home/{TECHNICIAN_USER}/.ssh")

    def under(self, root: Path) -> Targets:
        return Targets(**{item.name: root / str(getattr(self, item.name)).lstrip("/")
                          for item in dataclasses.fields(self)})


@dataclass(frozen=True)
class Applied:
    site_id: str
    admin_created: bool
    sheet: Path | None


def apply(targets: Targets) -> Applied:
    """First boot. Safe to re-run at any point: the provisioning file is erased only at the very end."""
    source = targets.boot_dir / PROVISION_FILE
    try:
        document = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProvisionError(f"{source} : aucun fichier de mise en service") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProvisionError(f"{source} : fichier illisible ({exc}) ; refaites « appliance provision write »") from exc
    provisioning = Provisioning.from_document(document, str(source))

    config_text = config_document(provisioning, targets)
    from appliance import config as config_module

    cfg = config_module.loads(config_text, source=targets.config_file)  # never write what would not load

    ownership.make_dir(targets.secrets_dir, 0o700)
    ownership.make_dir(targets.data_dir, 0o2770)  # setgid, group-writable: appliance-web writes the database too
    ownership.write_private(targets.secrets_dir / "mqtt_password", provisioning.mqtt_password + "\n")
    if provisioning.dhis2_token:
        ownership.write_private(targets.secrets_dir / "dhis2_token", provisioning.dhis2_token + "\n")
    if provisioning.offsite_key:
        from appliance.backup.offsite import KEY_FILE_NAME

        # restic reads it through RESTIC_PASSWORD_FILE (surrounding white space trimmed).
        ownership.write_private(targets.secrets_dir / KEY_FILE_NAME, provisioning.offsite_key + "\n")
    ssh_key = ensure_offsite_ssh_key(targets, provisioning)
    usb_key = ensure_usb_key(targets)
    # hostapd reads the derived key (64 hex digits): the passphrase itself is not kept on the Pi.
    psk = wpa_psk(provisioning.wifi_passphrase, provisioning.ssid)
    ownership.write_private(targets.secrets_dir / "wifi.psk", f"00:00:00:00:00:00 {psk}\n", service_owned=False)
    config_module.read_or_create_secret(targets.secrets_dir / "flask_secret_key")
    ownership.chown_service(targets.secrets_dir / "flask_secret_key")
    ownership.write_file(targets.config_file, config_text, 0o640, group_service=True)
    configure_hotspot(targets.hostapd_conf, provisioning.ssid, provisioning.wifi_passphrase)
    if provisioning.ssh_public_key:
        authorize_key(targets.ssh_dir, provisioning.ssh_public_key.strip())

    admin_password = ensure_admin(cfg, provisioning, ssh_key, usb_key)
    sheet = None
    if admin_password:
        sheet = targets.data_dir / SHEET_FILE
    ownership.chown_service_tree(targets.data_dir)
    ownership.erase(source)
    return Applied(site_id=provisioning.site_id, admin_created=admin_password is not None, sheet=sheet)


def config_document(provisioning: Provisioning, targets: Targets) -> str:
    """The appliance.toml first boot writes: only non-secret values; secrets are files beside it."""
    document: dict = {
        "site": {"id": provisioning.site_id, "name": provisioning.facility_name.strip()},
        "paths": {"data_dir": str(targets.data_dir), "secrets_dir": str(targets.secrets_dir)},
        "modem": {"apn": provisioning.modem_apn},
        "dhis2": {"org_unit": provisioning.dhis2_org_unit},
        "telemetry": {"enabled": bool(provisioning.mqtt_broker), "username": provisioning.mqtt_user},
    }
    if provisioning.mqtt_broker:
        document["telemetry"]["broker_host"] = provisioning.mqtt_broker
    if provisioning.dhis2_url:
        document["dhis2"]["base_url"] = provisioning.dhis2_url
    if provisioning.modem_apn_user:
        document["modem"]["apn_user"] = provisioning.modem_apn_user
    if provisioning.modem_apn_password:
        document["modem"]["apn_password"] = provisioning.modem_apn_password
    if provisioning.hardware == HARDWARE_SIMULATION:
        document["simulation"] = True
    if provisioning.offsite_repository:
        document["backup"] = {"offsite_repository": provisioning.offsite_repository}
    if provisioning.offsite_host_key:
        from appliance.backup.sftp import parse_host_key

        document["backup"]["offsite_host_key"] = parse_host_key(provisioning.offsite_host_key)
    return "# Écrit à la mise en service (appliance provision apply). Modifiable par le technicien.\n" + \
        tomli_w.dumps(document)


def wpa_psk(passphrase: str, ssid: str) -> str:
    """WPA2's pre-shared key: PBKDF2-HMAC-SHA1(passphrase, ssid, 4096 rounds, 32 bytes) (IEEE 802.11i)."""
    return hashlib.pbkdf2_hmac("sha1", passphrase.encode(), ssid.encode("utf-8"), 4096, 32).hex()


def ensure_offsite_ssh_key(targets: Targets, provisioning: Provisioning) -> PublicKey:
    """The key this appliance logs in to an sftp backup server with, made here at every first boot that
    finds none (always, not only with an sftp repository: the server is often set up after the visit,
    and the central team then authorizes the key read off the sheet). Kept when provisioning again."""
    from appliance.backup import sftp

    try:
        key = sftp.ensure_key_pair(targets.secrets_dir, comment=f"appliance@{provisioning.site_id}")
        target = sftp.parse_repository(provisioning.offsite_repository)
        if target is not None:
            sftp.prepare_known_hosts(targets.secrets_dir, target, provisioning.offsite_host_key)
    except sftp.SftpError as exc:
        raise ProvisionError(f"clé SSH de la sauvegarde hors site : {exc}") from exc
    return key


def ensure_usb_key(targets: Targets) -> str:
    """The key of the encrypted USB stick copies, made here at the first first boot and kept when
    provisioning again (sticks already written stay readable); printed on the sheet."""
    from appliance.backup.stick_repository import KEY_FILE_NAME, ensure_key

    path = targets.secrets_dir / KEY_FILE_NAME
    key = ensure_key(path)
    ownership.chown_service(path)  # the agent makes the stick copies
    return key


def ensure_admin(cfg, provisioning: Provisioning, ssh_key: PublicKey | None = None,
                 usb_key: str = "") -> str | None:
    """The first admin, with a generated password shown once; none if an admin already exists."""
    from appliance import accounts
    from appliance.store import open_and_migrate
    from appliance.store.audit import system_actor
    from appliance.store.db import database
    from appliance.store.models import User

    db = open_and_migrate(cfg.paths.database)
    database.initialize(db)
    try:
        if User.select().where((User.role == "admin") & User.active).exists():
            return None
        password = accounts.generate_password(12)
        # The sheet first: a power cut after it leaves no admin, and the next boot starts over.
        write_sheet(cfg.paths.data_dir / SHEET_FILE, provisioning, username="admin", password=password,
                    ssh_key=ssh_key, usb_key=usb_key)
        actor = system_actor("provision")
        existing = User.get_or_none(User.username == "admin")
        with database.atomic():
            if existing is None:
                accounts.create_user(actor, username="admin", first_name="Administrateur",
                                     last_name=provisioning.facility_name.strip()[:40], role="admin",
                                     password=password, must_change_password=True)
            else:
                existing.active = True
                existing.role = "admin"
                accounts.set_password(actor, existing, password, must_change=True)
        return password
    finally:
        db.close()



def configure_hotspot(hostapd_conf: Path, ssid: str, passphrase: str) -> None:
    """The site's network name, and the passphrase for WPA3-SAE (which cannot use WPA2's derived PSK):
    hostapd.conf then holds a secret, so it is root's alone (0600)."""
    if not hostapd_conf.exists():
        return
    text = hostapd_conf.read_text(encoding="utf-8")
    updated = re.sub(r"(?m)^ssid=.*$", lambda _: f"ssid={ssid}", text, count=1)
    updated = re.sub(r"(?m)^sae_password=.*\n", "", updated)
    if re.search(r"(?m)^wpa_key_mgmt=.*\bSAE\b", updated):
        updated = updated.rstrip("\n") + f"\nsae_password={passphrase}\n"
    ownership.write_file(hostapd_conf, updated, 0o600)


def authorize_key(ssh_dir: Path, key: str) -> None:
    """The key goes to the technician's own account: sshd reads it as him and, with StrictModes, refuses a
    folder or file that is not his (first boot runs as root, so both are handed over)."""
    owner = ownership.user_ids(TECHNICIAN_USER)
    ownership.make_dir(ssh_dir, 0o700, service_owned=False)
    if owner:
        os.chown(ssh_dir, *owner)
    keys = ssh_dir / "authorized_keys"
    present = keys.read_text(encoding="utf-8").splitlines() if keys.exists() else []
    if key not in present:
        ownership.write_file(keys, "\n".join([*present, key]) + "\n", 0o600, owner=owner)
