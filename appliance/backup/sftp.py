"""SSH access to an ``sftp:`` off-site repository: the box's own key, the server's host key, the command.

restic reaches an sftp repository by running ``ssh``. On the appliance that ssh must not depend on a
home folder or a user's ssh_config: restic 0.14's ``-o sftp.command=…`` gives the whole command, so the
key made on the box at first boot (never in the image), the server's host key (pinned at provisioning,
or trusted on first use) and the time-outs a 3G link needs are all named here, in one place.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import posixpath
import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from appliance.files import fsync_folder, write_atomically

KEY_FILE_NAME = "offsite_ssh_key"
KNOWN_HOSTS_FILE_NAME = "offsite_known_hosts"
# What the central team puts before the key in the backup account's authorized_keys: no shell, no
# forwarding, no pty, only the sftp server (OpenSSH's sshd(8) "AUTHORIZED_KEYS FILE FORMAT").
AUTHORIZED_KEYS_OPTIONS = 'restrict,command="internal-sftp"'
HOST_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa")
# A dead 3G link is noticed in two minutes rather than at restic's three-hour limit.
SSH_TIMEOUTS = ("ConnectTimeout=60", "ServerAliveInterval=30", "ServerAliveCountMax=4")

_HOSTNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,252}")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")
# restic 0.14 splits sftp.command on white space, quotes and backslashes; ssh expands "%" and "~" in
# IdentityFile and UserKnownHostsFile: a path handed to both must hold none of them.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9/._+-]*")


class SftpError(ValueError):
    """An sftp repository, host key or key file the appliance cannot use; French, for the technician.
    (Not a BackupError: the configuration loader checks repositories with this module, kept light.)"""


@dataclass(frozen=True)
class SftpTarget:
    """Where restic's ssh goes, parsed from the repository exactly as restic parses it."""

    user: str
    host: str
    port: int | None
    path: str

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    @property
    def known_hosts_name(self) -> str:
        """The server's name as ssh writes and looks it up in known_hosts (sshd(8) "SSH_KNOWN_HOSTS")."""
        host = self.host.lower()
        return host if self.port in (None, 22) else f"[{host}]:{self.port}"


def parse_repository(repository: str) -> SftpTarget | None:
    """The ssh side of an ``sftp:`` repository; None for any other backend.

    restic's two forms (its sftp backend's ParseConfig): ``sftp:user@host:path`` (split at the first
    colon, so no port and no IPv6 there; ``/path`` is absolute, ``path`` is in the account's home) and
    ``sftp://user@host:port//path`` (a URL: one more slash for an absolute path; ``[::1]`` for IPv6).
    """
    if repository.startswith("sftp://"):
        netloc, slash, rest = repository[len("sftp://"):].partition("/")
        if not slash:
            raise SftpError(f"dépôt « {repository} » : aucun dossier après le serveur (sftp://serveur//chemin)")
        user, _, hostport = netloc.rpartition("@")
        user = unquote(user)
        host, port = _split_port(hostport, repository)
        directory = unquote(rest)
    elif repository.startswith("sftp:"):
        userhost, colon, directory = repository[len("sftp:"):].partition(":")
        if not colon:
            raise SftpError(f"dépôt « {repository} » : serveur ou chemin absent (sftp:utilisateur@serveur:/chemin)")
        user, _, host = userhost.rpartition("@")
        port = None
    else:
        return None
    if not (_HOSTNAME.fullmatch(host) or _IPV6.fullmatch(host)):
        raise SftpError(f"dépôt « {repository} » : nom de serveur invalide « {host} »")
    if user and not _USER.fullmatch(user):
        raise SftpError(f"dépôt « {repository} » : utilisateur invalide « {user} » (lettres, chiffres, « . _ - »)")
    path = posixpath.normpath(directory) if directory else "."
    path = "/" + path.lstrip("/") if path.startswith("//") else path  # as Go's path.Clean
    if path.startswith("~"):
        raise SftpError(f"dépôt « {repository} » : pas de « ~ » ; un chemin relatif part du dossier du compte")
    return SftpTarget(user=user, host=host, port=port, path=path)


def _split_port(hostport: str, repository: str) -> tuple[str, int | None]:
    """Go's url.Hostname() and url.Port(): brackets around an IPv6 address, the port after the last colon."""
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise SftpError(f"dépôt « {repository} » : adresse IPv6 mal fermée (sftp://[::1]:2222//chemin)")
        port = rest[1:]
    elif hostport.count(":") > 1:
        raise SftpError(f"dépôt « {repository} » : une adresse IPv6 s'écrit entre crochets (sftp://[::1]:2222//chemin)")
    else:
        host, _, port = hostport.partition(":")
    if not port:
        return host, None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise SftpError(f"dépôt « {repository} » : port invalide « {port} » (1 à 65535)")
    return host, int(port)


# ---------------------------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class PublicKey:
    """The appliance's public key as the central team needs it: the line, its fingerprint, the entry."""

    line: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.line)

    @property
    def authorized_keys_line(self) -> str:
        return f"{AUTHORIZED_KEYS_OPTIONS} {self.line}"


def fingerprint(key_line: str) -> str:
    """OpenSSH's SHA256 fingerprint (``ssh-keygen -l``): unpadded base64 of the key blob's sha256."""
    blob = base64.b64decode(key_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def offsite_lines(repository: str, host_key: str, ssh_key: PublicKey | None) -> list[tuple[str, str]]:
    """What the central team needs to let this appliance in (the installation sheet and
    ``appliance backup offsite-ssh-key``): its public key, and which server it trusts."""
    rows = []
    if ssh_key is not None:
        rows += [("Clé SSH de l'appareil", ssh_key.line), ("Empreinte de la clé SSH", ssh_key.fingerprint),
                 ("Ligne pour authorized_keys", ssh_key.authorized_keys_line)]
    target = parse_repository(repository) if repository else None
    if target is not None:
        trusted = (f"épinglée : {fingerprint(parse_host_key(host_key))}" if host_key
                   else "non épinglée : acceptée au premier contact")
        rows += [("Dépôt hors site", repository), ("Clé d'hôte du serveur", trusted)]
    return rows


def parse_host_key(text: str) -> str:
    """A server's public host key as ``type base64``, from the ``.pub`` line or a known_hosts /
    ``ssh-keyscan`` line (host names first); refused unless the base64 holds a key of the named type."""
    fields = text.strip().split()
    while fields and fields[0] not in HOST_KEY_TYPES:
        fields = fields[1:] if len(fields) > 2 else []
    if len(fields) < 2:
        raise SftpError("une ligne « ssh-ed25519 AAAA… » (fichier "
                        "/etc/ssh/ssh_host_ed25519_key.pub du serveur, ou sortie de ssh-keyscan)")
    kind, encoded = fields[0], fields[1]
    try:
        blob = base64.b64decode(encoded, validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        named = blob[4:4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError, ValueError):
        named = ""
    if named != kind or len(blob) < 4 + length + 32:
        raise SftpError(f"le contenu n'est pas une clé {kind} (ligne tronquée ou altérée ?)")
    return f"{kind} {encoded}"


def key_file(secrets_dir: Path) -> Path:
    return secrets_dir / KEY_FILE_NAME


def read_public_key(secrets_dir: Path) -> PublicKey | None:
    try:
        line = key_file(secrets_dir).with_suffix(".pub").read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    return PublicKey(line) if line else None


def ensure_key_pair(secrets_dir: Path, comment: str) -> PublicKey:
    """The appliance's ed25519 key for the backup server, made here once and kept (the server trusts it).

    Made in a scratch folder beside it and renamed into place, public half first: a power cut leaves
    either no private key (made again next time) or a whole pair.
    """
    private = key_file(secrets_dir)
    public = private.with_suffix(".pub")
    for leftover in secrets_dir.glob(".offsite-ssh-key.*"):
        shutil.rmtree(leftover, ignore_errors=True)
    if private.exists():
        derived = _ssh_keygen("-y", "-f", str(private)).strip()
        existing = read_public_key(secrets_dir)
        if existing is None or existing.line.split()[:2] != derived.split()[:2]:
            _replace_in_folder(public, derived + "\n", 0o600)
            return PublicKey(derived)
        return existing
    scratch = Path(tempfile.mkdtemp(dir=secrets_dir, prefix=".offsite-ssh-key."))
    try:
        made = scratch / "key"
        _ssh_keygen("-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(made))
        for path in (made, made.with_suffix(".pub")):
            path.chmod(0o600)  # the public half too: everything in the secrets folder is 0600
            _fsync_file(path)
            _give_to_folder_owner(path, secrets_dir)
        os.replace(made.with_suffix(".pub"), public)
        os.replace(made, private)
        fsync_folder(secrets_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    key = read_public_key(secrets_dir)
    assert key is not None
    return key


def _ssh_keygen(*args: str) -> str:
    try:
        done = subprocess.run(["ssh-keygen", *args], capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError as exc:
        raise SftpError("ssh-keygen introuvable : le paquet openssh-client est nécessaire") from exc
    if done.returncode != 0:
        raise SftpError(f"ssh-keygen a échoué : {done.stderr.strip()[:200]}")
    return done.stdout


# ---------------------------------------------------------------------------------------------- command


def known_hosts_file(secrets_dir: Path) -> Path:
    return secrets_dir / KNOWN_HOSTS_FILE_NAME


def prepare_known_hosts(secrets_dir: Path, target: SftpTarget, pinned_host_key: str) -> Path:
    """The known_hosts ssh checks: exactly the pinned key when one is provisioned; else a file ssh
    fills on first contact (created here so it belongs to the service user, whoever runs restic)."""
    path = known_hosts_file(secrets_dir)
    if pinned_host_key:
        wanted = f"{target.known_hosts_name} {parse_host_key(pinned_host_key)}\n"
        try:
            current = path.read_text(encoding="ascii")
        except (FileNotFoundError, UnicodeDecodeError):
            current = None
        if current != wanted:
            _replace_in_folder(path, wanted, 0o600)
    elif not path.exists():
        _replace_in_folder(path, "", 0o600)
    return path


def ssh_command(target: SftpTarget, *, identity: Path, known_hosts: Path, pinned: bool) -> list[str]:
    """ssh as restic's sftp backend needs it: this key only, this known_hosts only, never a prompt."""
    for path in (identity, known_hosts):
        if not _PLAIN_PATH.fullmatch(str(path)):
            raise SftpError(f"chemin « {path} » inutilisable par ssh (espaces, guillemets, « % » ou « ~ »)")
    timeouts = [item for option in SSH_TIMEOUTS for item in ("-o", option)]
    return ["ssh", "-F", "none", "-i", str(identity), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", f"StrictHostKeyChecking={'yes' if pinned else 'accept-new'}", *timeouts,
            *(["-p", str(target.port)] if target.port else []), target.destination, "-s", "sftp"]


def command_for(repository: str, secrets_dir: Path, pinned_host_key: str) -> list[str] | None:
    """The ssh command for an sftp repository, its known_hosts ready; None for other backends."""
    target = parse_repository(repository)
    if target is None:
        return None
    identity = key_file(secrets_dir)
    if not identity.is_file():
        raise SftpError(f"clé SSH de l'appareil absente ({identity}) : « appliance backup offsite-ssh-key » "
                        "la crée et affiche la ligne à ajouter sur le serveur")
    known_hosts = prepare_known_hosts(secrets_dir, target, pinned_host_key)
    return ssh_command(target, identity=identity, known_hosts=known_hosts, pinned=bool(pinned_host_key))


def restic_options(repository: str, secrets_dir: Path, pinned_host_key: str) -> list[str]:
    """restic's ``-o sftp.command=…`` for an sftp repository (nothing for other backends)."""
    command = command_for(repository, secrets_dir, pinned_host_key)
    return ["-o", "sftp.command=" + " ".join(command)] if command else []


def ssh_words(repository: str, secrets_dir: Path, pinned_host_key: str) -> str:
    """What ssh itself says when it opens the session alone. restic relays ssh's messages but may
    exit before they arrive ("unable to start the sftp session"): this is how a refused key or a
    changed host key is told apart from a link that is down."""
    command = command_for(repository, secrets_dir, pinned_host_key)
    if command is None:
        return ""
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return done.stderr


# ---------------------------------------------------------------------------------------------- files


def _replace_in_folder(path: Path, text: str, mode: int) -> None:
    owner = path.parent.stat() if os.geteuid() == 0 else None
    write_atomically(path, text, mode, owner=(owner.st_uid, owner.st_gid) if owner else None, encoding="ascii")


def _give_to_folder_owner(path: Path, folder: Path) -> None:
    """Root (first boot, a technician's command) writes files the service user must read and update:
    they take the owner of the secrets folder, which is the service user's on the appliance."""
    if os.geteuid() == 0:
        owner = folder.stat()
        os.chown(path, owner.st_uid, owner.st_gid)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

