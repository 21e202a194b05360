"""What the technician provides: the settings of one clinic, checked field by field, as the
file between ``provision write`` (laptop) and ``provision apply`` (first boot)."""

from __future__ import annotations

import dataclasses
import re
import secrets
from dataclasses import dataclass

import tomli_w

from appliance.telemetry.topics import SITE_ID

PROVISION_FILE = "appliance-provision.toml"
SHEET_FILE = "fiche-installation.html"
FORMAT_VERSION = 1
MIN_WIFI_PASSPHRASE = 12  # WPA2-PSK falls to offline guessing from one captured handshake: long and random
HARDWARE_SIMULATION = "simulation"  # provisioning value switching the agent to its simulated battery and modem
SERVICE_USER = "appliance"
# The one account sshd lets in (ansible/roles/base, group_vars technician_user): root never logs in over SSH.
TECHNICIAN_USER = "technicien"
EMR_ADDRESS = "http://dossier.clinique"
EMR_FALLBACK_ADDRESS = "http://10.42.0.1"
SHEET_COMMAND = f"ssh {TECHNICIAN_USER}@10.42.0.1 sudo appliance provision sheet"


class ProvisionError(ValueError):
    """Bad or missing provisioning input, worded for the technician."""


_DHIS2_UID = re.compile(r"[A-Za-z][A-Za-z0-9]{10}")
_APN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,99}")
_MQTT_USER = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
# mmcli's connect string is "key=value,key=value": those characters would break it (as [modem] refuses).
_APN_CREDENTIAL = re.compile(r"[^,=\"'\\]{1,64}")
# restic's backends a clinic can reach over 3G, or a local path (a disk, tests).
_RESTIC_REPOSITORY = re.compile(r"(sftp:|rest:https?://|s3:|b2:|azure:|gs:|swift:|rclone:|/)\S+")
_SSH_KEY = re.compile(r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]{40,}( [^\n]*)?")


def _printable_ascii(value: str) -> bool:
    return all(32 <= ord(char) <= 126 for char in value)


def _no_control(value: str) -> bool:
    return all(ord(char) >= 32 and ord(char) != 127 for char in value)


@dataclass(frozen=True)
class Provisioning:
    """What a technician gives for one clinic. Secrets are marked; none of them ever enters the image."""

    site_id: str
    facility_name: str
    dhis2_org_unit: str
    wifi_passphrase: str  # secret
    mqtt_password: str  # secret
    modem_apn: str
    mqtt_username: str = ""  # empty: the site id (the broker's ACL relies on it)
    mqtt_broker: str = ""  # empty: telemetry stays off
    wifi_ssid: str = ""  # empty: "Dossier-<site id>"
    dhis2_url: str = ""
    dhis2_token: str = ""  # secret, optional
    ssh_public_key: str = ""  # the technician's key for SSH (keys only)
    # Only when the operator asks for them; the same for every subscriber, so [modem] keeps them.
    modem_apn_user: str = ""
    modem_apn_password: str = ""
    offsite_repository: str = ""  # empty: no off-site copy
    offsite_key: str = ""  # secret: restic's repository password, kept by the central team too
    offsite_host_key: str = ""  # sftp: the backup server's public host key, pinned (empty: first contact)
    # "simulation": no ADC, GPIO or modem on this board (an emulator, a bench): the agent's simulated ones.
    hardware: str = ""

    SECRET_FIELDS = ("wifi_passphrase", "mqtt_password", "dhis2_token", "modem_apn_password", "offsite_key")

    @property
    def ssid(self) -> str:
        return self.wifi_ssid or f"Dossier-{self.site_id}"[:32]

    @property
    def mqtt_user(self) -> str:
        return self.mqtt_username or self.site_id

    def problems(self) -> list[str]:
        """Every problem, one French line each, naming the field: the technician fixes all at once."""
        errors = []
        if self.hardware not in ("", HARDWARE_SIMULATION):
            errors.append(f"Matériel : « {HARDWARE_SIMULATION} » ou rien (le Pi et ses capteurs), "
                          f"reçu « {self.hardware} »")
        if not SITE_ID.fullmatch(self.site_id):
            errors.append("Identifiant du site : 2 à 40 caractères, minuscules, chiffres et tirets "
                          f"(ex. « cscom-kati-01 »), reçu « {self.site_id} »")
        name = self.facility_name.strip()
        if not 2 <= len(name) <= 80 or not _no_control(name):
            errors.append("Nom de l'établissement : 2 à 80 caractères, sans caractère de contrôle")
        if not _DHIS2_UID.fullmatch(self.dhis2_org_unit):
            errors.append("Unité d'organisation DHIS2 : identifiant de 11 caractères, une lettre puis "
                          f"lettres et chiffres (ex. « DiszpKrYNg8 »), reçu « {self.dhis2_org_unit} »")
        passphrase = self.wifi_passphrase
        if not MIN_WIFI_PASSPHRASE <= len(passphrase) <= 63 or not _printable_ascii(passphrase):
            errors.append(f"Mot de passe WiFi (WPA2) : {MIN_WIFI_PASSPHRASE} à 63 caractères, lettres sans accent, "
                          "chiffres "
                          f"ou ponctuation ({len(self.wifi_passphrase)} caractère(s) reçu(s))")
        ssid_bytes = len(self.ssid.encode("utf-8"))
        if not 1 <= ssid_bytes <= 32 or not _no_control(self.ssid):
            errors.append(f"Nom du réseau WiFi : 1 à 32 octets, sans caractère de contrôle ({ssid_bytes} reçus)")
        if not _MQTT_USER.fullmatch(self.mqtt_user):
            errors.append("Identifiant MQTT : 1 à 64 lettres sans accent, chiffres, « _ . @ - »")
        if not 8 <= len(self.mqtt_password) <= 128 or not _printable_ascii(self.mqtt_password):
            errors.append("Mot de passe MQTT : 8 à 128 caractères, lettres sans accent, chiffres ou ponctuation")
        if self.mqtt_broker and not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.\-]{0,252})", self.mqtt_broker):
            errors.append(f"Serveur MQTT : un nom d'hôte (ex. « mqtt.sante.gov.ml »), reçu « {self.mqtt_broker} »")
        if not _APN.fullmatch(self.modem_apn):
            errors.append("Point d'accès (APN) du modem : lettres, chiffres, points et tirets "
                          f"(ex. « internet »), reçu « {self.modem_apn} »")
        for label, value in (("Identifiant APN du modem", self.modem_apn_user),
                             ("Mot de passe APN du modem", self.modem_apn_password)):
            if value and (not _printable_ascii(value) or not _APN_CREDENTIAL.fullmatch(value)):
                errors.append(f"{label} : 1 à 64 caractères sans accent, sans espace au début ni à la fin, "
                              "sans « , = \" ' \\ » (celui donné par l'opérateur)")
            elif value != value.strip():
                errors.append(f"{label} : espace au début ou à la fin")
        if self.modem_apn_password and not self.modem_apn_user:
            errors.append("Mot de passe APN du modem : donné sans identifiant APN (--modem-apn-user)")
        errors.extend(self._offsite_problems())
        if self.dhis2_url and (not re.fullmatch(r"https?://[^\s\"']+", self.dhis2_url)
                               or self.dhis2_url.rstrip("/").endswith("/api")):
            errors.append("Adresse DHIS2 : https://… sans « /api » (ex. « https://dhis2.sante.gov.ml »)")
        if self.dhis2_token and not re.fullmatch(r"d2pat_[A-Za-z0-9]{20,}", self.dhis2_token):
            errors.append("Jeton DHIS2 : un jeton d'accès personnel « d2pat_… »")
        if self.ssh_public_key and not _SSH_KEY.fullmatch(self.ssh_public_key.strip()):
            errors.append("Clé SSH publique : une seule ligne « ssh-ed25519 AAAA… » (le fichier .pub)")
        return errors

    def _offsite_problems(self) -> list[str]:
        errors = []
        repository = self.offsite_repository
        if repository:
            if not _RESTIC_REPOSITORY.fullmatch(repository) or not _printable_ascii(repository):
                errors.append("Dépôt de la sauvegarde hors site : une adresse restic, sans espace "
                              "(ex. « sftp:sauvegarde@serveur:/srv/restic/cscom-kati »), "
                              f"reçu « {repository} »")
            elif re.search(r"://[^/@]*:[^/@]*@", repository):
                errors.append("Dépôt de la sauvegarde hors site : pas de mot de passe dans l'adresse "
                              "(il serait lisible dans la configuration) ; utilisez sftp avec une clé")
            else:
                errors.extend(self._sftp_problems())
            if not self.offsite_key:
                errors.append("Clé de la sauvegarde hors site : obligatoire avec un dépôt (--offsite-key-file)")
        elif self.offsite_host_key:
            errors.append("Clé d'hôte du serveur de sauvegarde : seulement avec un dépôt sftp: (--offsite-repository)")
        key = self.offsite_key
        if key and (not 16 <= len(key) <= 256 or not _printable_ascii(key) or key != key.strip()):
            errors.append("Clé de la sauvegarde hors site : 16 à 256 caractères sans accent, sans espace au "
                          f"début ni à la fin ({len(key)} caractère(s) reçu(s))")
        return errors

    def _sftp_problems(self) -> list[str]:
        from appliance.backup import sftp

        try:
            target = sftp.parse_repository(self.offsite_repository)
        except sftp.SftpError as exc:
            return [f"Dépôt de la sauvegarde hors site : {exc}"]
        if not self.offsite_host_key:
            return []
        if target is None:
            return ["Clé d'hôte du serveur de sauvegarde : seulement avec un dépôt sftp: (--offsite-repository)"]
        try:
            sftp.parse_host_key(self.offsite_host_key)
        except sftp.SftpError as exc:
            return [f"Clé d'hôte du serveur de sauvegarde : {exc}"]
        return []

    def check(self) -> Provisioning:
        errors = self.problems()
        if errors:
            raise ProvisionError("\n".join(errors))
        return self

    @classmethod
    def from_document(cls, document: dict, where: str) -> Provisioning:
        """Read the boot partition's file back; a damaged or foreign file gets a clear message."""
        if document.get("format") != FORMAT_VERSION:
            raise ProvisionError(f"{where} : format de fichier inconnu (attendu format = {FORMAT_VERSION})")
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(document) - known - {"format"})
        if unknown:
            raise ProvisionError(f"{where} : champ(s) inconnu(s) : {', '.join(unknown)}")
        values = {}
        for item in dataclasses.fields(cls):
            if item.name in document:
                if not isinstance(document[item.name], str):
                    raise ProvisionError(f"{where} : le champ « {item.name} » doit être un texte")
                values[item.name] = document[item.name]
        required = [item.name for item in dataclasses.fields(cls) if item.default is dataclasses.MISSING]
        missing = [name for name in required if name not in values]
        if missing:
            raise ProvisionError(f"{where} : champ(s) manquant(s) : {', '.join(missing)}")
        return cls(**values).check()

    def document_text(self) -> str:
        values = {"format": FORMAT_VERSION, **{k: v for k, v in dataclasses.asdict(self).items() if v}}
        return (
            "# Mise en service de l'appareil : lu puis EFFACÉ au premier démarrage.\n"
            "# Contient des mots de passe : ne pas copier ailleurs.\n" + tomli_w.dumps(values)
        )


def generate_wifi_passphrase() -> str:
    """Four groups of four characters without look-alikes (about 79 bits): typed once per phone."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))
