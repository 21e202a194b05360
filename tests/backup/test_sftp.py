"""sftp off-site repositories: restic's repository forms, the key made on the box, the ssh command, and
restic through the real OpenSSH server (started by the test on a loopback port) with the restricted
authorized_keys line the documentation gives the central team."""

from __future__ import annotations

import dataclasses
import getpass
import os
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from appliance.backup import offsite, sftp
from appliance.backup.local import run_nightly_backup
from appliance.outbox.models import ItemState, OutboxItem
from appliance.outbox.outcome import OutcomeKind
from appliance.settings.backup import BackupSettings

from .conftest import NO_STICK

needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="openssh-client is required")


# ---------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("repository", "user", "host", "port", "path", "known_as"),
    [
        ("sftp:sauvegarde@serveur:/srv/restic/kati", "sauvegarde", "serveur", None, "/srv/restic/kati", "serveur"),
        ("sftp:serveur:depots/kati/", "", "serveur", None, "depots/kati", "serveur"),
        ("sftp:sauvegarde@Serveur.Sante.gov.ml:/srv/a/../kati", "sauvegarde", "Serveur.Sante.gov.ml", None,
         "/srv/kati", "serveur.sante.gov.ml"),
        ("sftp://sauvegarde@serveur.sante.gov.ml:2222//srv/restic/kati", "sauvegarde", "serveur.sante.gov.ml",
         2222, "/srv/restic/kati", "[serveur.sante.gov.ml]:2222"),
        ("sftp://sauvegarde@serveur/depots/kati", "sauvegarde", "serveur", None, "depots/kati", "serveur"),
        ("sftp://serveur:22//srv/kati", "", "serveur", 22, "/srv/kati", "serveur"),
        ("sftp://sauvegarde@[2001:db8::1]:2222//srv/kati", "sauvegarde", "2001:db8::1", 2222, "/srv/kati",
         "[2001:db8::1]:2222"),
        ("sftp://sauvegarde@10.0.0.5//srv/kati", "sauvegarde", "10.0.0.5", None, "/srv/kati", "10.0.0.5"),
    ],
)
def test_repositories_parse_as_restic_parses_them(repository, user, host, port, path, known_as) -> None:
    target = sftp.parse_repository(repository)
    assert target == sftp.SftpTarget(user=user, host=host, port=port, path=path)
    assert target.known_hosts_name == known_as
    assert target.destination == (f"{user}@{host}" if user else host)


@pytest.mark.parametrize("repository", ["/var/lib/appliance/depot", "rest:https://serveur/kati/",
                                        "s3:s3.amazonaws.com/b"])
def test_other_backends_have_no_ssh_side(repository: str) -> None:
    assert sftp.parse_repository(repository) is None
    assert sftp.restic_options(repository, Path("/nulle-part"), "") == []


@pytest.mark.parametrize(
    ("repository", "says"),
    [
        ("sftp:serveur", "serveur ou chemin absent"),
        ("sftp://serveur", "aucun dossier"),
        ("sftp:-oProxyCommand=touch:/srv", "nom de serveur invalide"),
        ("sftp://-oProxyCommand=x//srv", "nom de serveur invalide"),
        ("sftp:-l@serveur:/srv", "utilisateur invalide"),
        ("sftp://sauvegarde:secret@serveur//srv", "utilisateur invalide"),
        ("sftp://sauvegarde@serveur:99999//srv", "port invalide"),
        ("sftp://sauvegarde@serveur:ssh//srv", "port invalide"),
        ("sftp://sauvegarde@2001:db8::1//srv", "entre crochets"),
        ("sftp:sauvegarde@serveur:~/kati", "pas de « ~ »"),
    ],
)
def test_bad_sftp_repositories_are_refused_in_french(repository: str, says: str) -> None:
    with pytest.raises(sftp.SftpError, match=says):
        sftp.parse_repository(repository)
    problems = BackupSettings(offsite_repository=repository).validate()
    assert len(problems) == 1 and problems[0].startswith("backup.offsite_repository : ")


# ---------------------------------------------------------------------------------------------- keys


def make_key(folder: Path, name: str = "cle") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "essai", "-f", str(folder / name)],
                   check=True)
    return folder / f"{name}.pub"


@needs_ssh_keygen
def test_host_keys_are_taken_from_a_pub_or_keyscan_line_and_checked(tmp_path: Path) -> None:
    line = make_key(tmp_path).read_text().strip()
    kind, encoded, _ = line.split()
    assert sftp.parse_host_key(line) == f"{kind} {encoded}"
    assert sftp.parse_host_key(f"[serveur]:2222 {kind} {encoded}\n") == f"{kind} {encoded}"
    assert sftp.parse_host_key(f"serveur,10.0.0.5 {kind} {encoded}") == f"{kind} {encoded}"
    for bad in ("", "ssh-ed25519", f"ssh-rsa {encoded}", f"{kind} {encoded[:-12]}", f"{kind} pas-du-base64!",
                "AAAAC3NzaC1lZDI1NTE5 ssh-ed25519"):
        with pytest.raises(sftp.SftpError, match=r"ssh-ed25519 AAAA|n'est pas une clé"):
            sftp.parse_host_key(bad)
    assert BackupSettings(offsite_host_key=f"ssh-rsa {encoded}").validate()[0].startswith("backup.offsite_host_key")


@needs_ssh_keygen
def test_the_key_pair_is_made_once_0600_and_its_fingerprint_is_openssh_s(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / ".offsite-ssh-key.abcd").mkdir()  # left by a power cut in the middle of a first try
    key = sftp.ensure_key_pair(secrets, comment="appliance@cscom-kati-01")
    private = secrets / sftp.KEY_FILE_NAME
    assert {item.name for item in secrets.iterdir()} == {"offsite_ssh_key", "offsite_ssh_key.pub"}
    for item in secrets.iterdir():
        assert stat.S_IMODE(item.stat().st_mode) == 0o600
    assert key.line.startswith("ssh-ed25519 AAAA") and key.line.endswith(" appliance@cscom-kati-01")
    listed = subprocess.run(["ssh-keygen", "-l", "-f", str(private)], capture_output=True, text=True, check=True)
    assert listed.stdout.split()[1] == key.fingerprint
    assert key.authorized_keys_line == f'restrict,command="internal-sftp" {key.line}'
    # Kept as it is (the server trusts it); the public half is made again from the private one if lost.
    assert sftp.ensure_key_pair(secrets, comment="autre") == key
    (secrets / "offsite_ssh_key.pub").unlink()
    assert sftp.ensure_key_pair(secrets, comment="autre").line.split()[:2] == key.line.split()[:2]
    assert sftp.read_public_key(secrets).fingerprint == key.fingerprint


@needs_ssh_keygen
@pytest.mark.skipif(os.geteuid() != 0, reason="handing files to the service user needs root")
def test_made_by_root_the_key_belongs_to_the_secrets_folder_s_owner(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    os.chown(secrets, 4321, 4321)  # the service user's folder on the appliance
    sftp.ensure_key_pair(secrets, comment="appliance@kati")
    target = sftp.parse_repository("sftp:sauvegarde@serveur:/srv/kati")
    sftp.prepare_known_hosts(secrets, target, "")
    assert {(item.stat().st_uid, item.stat().st_gid) for item in secrets.iterdir()} == {(4321, 4321)}


# ---------------------------------------------------------------------------------------------- command


@needs_ssh_keygen
def test_the_ssh_command_pins_the_provisioned_host_key(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    sftp.ensure_key_pair(secrets, comment="appliance@kati")
    host_key = make_key(tmp_path, "hote").read_text()
    options = sftp.restic_options("sftp://sauvegarde@serveur.sante.gov.ml:2222//srv/kati", secrets, host_key)
    assert options == ["-o", (
        f"sftp.command=ssh -F none -i {secrets}/offsite_ssh_key -o IdentitiesOnly=yes -o BatchMode=yes "
        f"-o UserKnownHostsFile={secrets}/offsite_known_hosts -o GlobalKnownHostsFile=/dev/null "
        "-o StrictHostKeyChecking=yes -o ConnectTimeout=60 -o ServerAliveInterval=30 -o ServerAliveCountMax=4 "
        "-p 2222 sauvegarde@serveur.sante.gov.ml -s sftp")]
    known = (secrets / "offsite_known_hosts").read_text()
    assert known == f"[serveur.sante.gov.ml]:2222 {sftp.parse_host_key(host_key)}\n"
    # A changed file (someone accepted another key by hand) is put back to the pinned key.
    (secrets / "offsite_known_hosts").write_text("[serveur.sante.gov.ml]:2222 ssh-ed25519 AAAAautre\n")
    sftp.restic_options("sftp://sauvegarde@serveur.sante.gov.ml:2222//srv/kati", secrets, host_key)
    assert (secrets / "offsite_known_hosts").read_text() == known


@needs_ssh_keygen
def test_without_a_pinned_key_the_first_contact_is_trusted(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    sftp.ensure_key_pair(secrets, comment="appliance@kati")
    options = sftp.restic_options("sftp:serveur:depots/kati", secrets, "")
    assert "-o StrictHostKeyChecking=accept-new" in options[1]
    assert options[1].endswith(" serveur -s sftp") and " -p " not in options[1]
    assert (secrets / "offsite_known_hosts").read_text() == ""


def test_missing_key_or_unusable_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(sftp.SftpError, match="appliance backup offsite-ssh-key"):
        sftp.restic_options("sftp:serveur:/srv/kati", tmp_path, "")
    spaced = tmp_path / "mes secrets"
    spaced.mkdir()
    (spaced / sftp.KEY_FILE_NAME).write_text("clé")
    with pytest.raises(sftp.SftpError, match="inutilisable par ssh"):
        sftp.restic_options("sftp:serveur:/srv/kati", spaced, "")


# ---------------------------------------------------------------------------------------------- real sshd


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sshd(tmp_path: Path):
    """Debian's OpenSSH server on a loopback port, its own config, host key and authorized_keys in a
    temporary folder; stopped at the end. As root it needs its privilege separation folder."""
    binary = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    if binary is None or shutil.which("ssh") is None or shutil.which("restic") is None:
        pytest.skip("openssh-server, openssh-client and restic (Debian packages) are required")
    folder = tmp_path / "serveur"
    folder.mkdir()
    host_key = make_key(folder, "ssh_host_ed25519_key")
    authorized = folder / "authorized_keys"
    authorized.write_text("")
    port = free_port()
    (folder / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1:{port}\nHostKey {folder}/ssh_host_ed25519_key\nAuthorizedKeysFile {authorized}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n"
        "Subsystem sftp internal-sftp\n")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = (folder / "sshd.log").open("w")
    server = subprocess.Popen([binary, "-D", "-e", "-f", str(folder / "sshd_config")], stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, (folder / "sshd.log").read_text()
            time.sleep(0.05)
        yield dataclasses.make_dataclass("Sshd", ["port", "host_key", "authorized_keys", "user"])(
            port, host_key.read_text().strip(), authorized, getpass.getuser())
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def pending_item() -> OutboxItem:
    return OutboxItem.get((OutboxItem.kind == offsite.KIND) & (OutboxItem.state == ItemState.PENDING))


def test_restic_reaches_a_real_sftp_server_with_the_box_s_key_only(cfg, live, sshd, tmp_path: Path) -> None:
    secrets = cfg.paths.secrets_dir
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / offsite.KEY_FILE_NAME).write_text("clé-de-provisionnement-de-test\n")
    repository = f"sftp://{sshd.user}@127.0.0.1:{sshd.port}/{tmp_path}/depot-kati"
    pinned = dataclasses.replace(cfg, backup=dataclasses.replace(
        cfg.backup, offsite_repository=repository, offsite_host_key=sshd.host_key))
    assert run_nightly_backup(pinned, usb=NO_STICK).ok
    sender = offsite.OffsiteSender(pinned)

    missing = sender(pending_item())
    assert missing.kind == OutcomeKind.NEEDS_ACTION and "offsite-ssh-key" in missing.message
    key = sftp.ensure_key_pair(secrets, comment="appliance@cscom-kati")
    refused = sender(pending_item())
    assert refused.kind == OutcomeKind.NEEDS_ACTION and "refuse la clé SSH" in refused.message, refused.message

    # The central team adds the sheet's line: sftp only, nothing else.
    sshd.authorized_keys.write_text(key.authorized_keys_line + "\n")
    delivered = sender(pending_item())
    assert delivered.kind == OutcomeKind.DELIVERED, delivered.message
    assert (tmp_path / "depot-kati/config").exists()
    shell = subprocess.run(["ssh", "-F", "none", "-i", str(sftp.key_file(secrets)), "-o", "BatchMode=yes",
                            "-o", f"UserKnownHostsFile={sftp.known_hosts_file(secrets)}", "-p", str(sshd.port),
                            f"{sshd.user}@127.0.0.1", "touch", str(tmp_path / "intrus")],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert not (tmp_path / "intrus").exists(), shell.stderr  # the restricted line runs sftp, not a command

    # Another server answering at that address (a man in the middle) is refused with the pinned key...
    impostor = dataclasses.replace(pinned, backup=dataclasses.replace(
        pinned.backup, offsite_host_key=make_key(tmp_path, "autre-hote").read_text()))
    changed = offsite.OffsiteSender(impostor)(pending_item())
    assert changed.kind == OutcomeKind.NEEDS_ACTION and "clé d'hôte" in changed.message, changed.message

    # ...and without a pinned key the first contact is trusted and written down for next time.
    sftp.known_hosts_file(secrets).unlink()
    first_use = dataclasses.replace(pinned, backup=dataclasses.replace(pinned.backup, offsite_host_key=""))
    assert offsite.restic(first_use, "cat", "config", timeout=60).returncode == 0
    assert sftp.known_hosts_file(secrets).read_text().split()[1:3] == sshd.host_key.split()[:2]

    # Nobody answering (the 3G link is down, the server is off): tried again at the next window.
    nobody = dataclasses.replace(first_use, backup=dataclasses.replace(
        first_use.backup, offsite_repository=f"sftp://{sshd.user}@127.0.0.1:{free_port()}/{tmp_path}/depot-kati"))
    down = offsite.OffsiteSender(nobody)(pending_item())
    assert down.kind == OutcomeKind.RETRY_LATER and down.link_down, down.message
