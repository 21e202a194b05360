"""The encrypted copy on a USB stick: a restic repository (the off-site copy's format) in the
site's folder of the stick, under a key of its own kept in the secrets folder and printed on the
installation sheet. Whoever finds the stick reads nothing; whoever restores it needs the sheet.

Why a repository and not one encrypted file per night: restic's snapshot exists only once its
data and index are written, so a stick pulled out at any instant holds either a whole copy or
none (the next copy removes the stale lock and prune the orphan data); and restic checks what it
reads back. Each copy is the night's verified ``.db.gz`` and its manifest, restored through the
same verification as any backup (``appliance.backup.restore``).
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from appliance.backup import restic
from appliance.backup.manifest import Manifest
from appliance.backup.snapshot import BackupError, file_sha256, manifest_path_for
from appliance.backup.usb import drop_from_page_cache, folder_identity, pulled_out
from appliance.config import Config, write_secret

KEY_FILE_NAME = "usb_backup_key"
REPOSITORY = "sauvegardes-chiffrees"  # the repository's folder, in the site's folder of the stick
TAG = "appliance-usb"
TIMEOUT_S = 3600
_FULL = ("no space left", "errno 28")
_KEY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes: read off paper, typed once


class StickKeyRefused(BackupError):
    """The repository is there but the key is missing or is not its key."""


def key_file(cfg: Config) -> Path:
    return cfg.backup.usb_key_file or cfg.paths.secrets_dir / KEY_FILE_NAME


def generate_key() -> str:
    """Six groups of four characters (about 119 bits), as short as can be copied from the sheet."""
    return "-".join("".join(secrets.choice(_KEY_ALPHABET) for _ in range(4)) for _ in range(6))


def ensure_key(path: Path) -> str:
    """The stick key in ``path``, made (0600) if there is none: sticks are never written in clear."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        value = ""
    return value or write_secret(path, generate_key())


def repository_in(folder: Path) -> Path | None:
    """The stick repository at ``folder`` or below it (the stick, its marker folder, the site's
    folder or the repository itself), or None."""
    for candidate in (folder, folder / REPOSITORY, *folder.glob(f"*/{REPOSITORY}"), *folder.glob(f"*/*/{REPOSITORY}")):
        if (candidate / "config").is_file() and (candidate / "keys").is_dir():
            return candidate
    return None


def copy_encrypted(cfg: Config, data_file: Path, target: Path, work: Path,
                   still_mounted: Callable[[], None] = lambda: None) -> Path:
    """Put the backup ``data_file`` (and its manifest) in the repository of ``target`` (the site's
    folder on the stick), read it back from the stick and compare it with its manifest, apply
    ``keep_usb``. Returns the copy's name inside the repository (``<repository>/<backup name>``).
    A stick that already holds this very backup, intact, is not written again. ``still_mounted``
    raises, right before restic creates or writes the repository, if the stick went meanwhile."""
    repository = target / REPOSITORY
    key = key_file(cfg)
    ensure_key(key)
    manifest = Manifest.read(manifest_path_for(data_file))
    still_mounted()
    _open_or_create(cfg, repository, key)
    if manifest.created_at not in _snapshots(cfg, repository, key):
        still_mounted()
        done = _backup(cfg, repository, key, data_file, manifest)
        if done.returncode != 0 and any(marker in done.stderr.lower() for marker in _FULL):
            _forget(cfg, repository, key, keep=1)  # make room: keep only the newest copy already there
            done = _backup(cfg, repository, key, data_file, manifest)
        if done.returncode != 0:
            if any(marker in done.stderr.lower() for marker in _FULL):
                raise BackupError(f"clé pleine ({shutil.disk_usage(target).free // 2**20} Mo libres)")
            raise BackupError(f"restic n'a pas pu écrire sur la clé : {restic.last_line(done.stderr)}")
    read_back = fetch(cfg, repository, key, work, snapshot=_snapshots(cfg, repository, key)[manifest.created_at])
    try:
        if file_sha256(read_back) != manifest.database.file_sha256:
            raise BackupError("la copie relue sur la clé diffère de l'original (clé défectueuse ?)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _forget(cfg, repository, key, keep=cfg.backup.keep_usb)
    return repository / data_file.name


def fetch(cfg: Config, repository: Path, key: Path, work: Path, *, snapshot: str = "latest") -> Path:
    """Restore one copy of the repository into ``work`` (emptied first); the ``.db.gz`` brought back,
    its manifest beside it. Raises StickKeyRefused when the key is absent or not the repository's."""
    if not key.is_file():
        raise StickKeyRefused(_key_message(key, absent=True))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for pack in (repository / "data").rglob("*"):
        if pack.is_file():
            drop_from_page_cache(pack)  # read from the stick itself, not from what we just wrote
    args = ["restore", snapshot, "--target", str(work)]
    if snapshot == "latest":
        args += ["--tag", TAG]
    done = _restic(cfg, repository, key, *args)
    if done.returncode != 0:
        if restic.wrong_key(done.stderr):
            raise StickKeyRefused(_key_message(key, absent=False))
        raise BackupError(f"restic n'a pas pu relire la copie de la clé USB : {restic.last_line(done.stderr)}")
    found = [path for path in work.rglob("*.db.gz") if manifest_path_for(path).is_file()]
    if len(found) != 1:
        raise BackupError("copie chiffrée sans sauvegarde reconnaissable (.db.gz et son manifeste)")
    return found[0]


def add_own_key(cfg: Config, repository: Path, given: Path) -> bool:
    """After a restore with the sheet's key (a new SD card has a new stick key): let this box's own key
    open the repository too, so its next copies go on the same stick. False if that failed (the
    restore stands; the next copy will say the stick needs another key)."""
    own = key_file(cfg)
    ensure_key(own)
    if own.read_text(encoding="utf-8").strip() == given.read_text(encoding="utf-8").strip():
        return True
    done = _restic(cfg, repository, given, "key", "add", "--new-password-file", str(own))
    return done.returncode == 0


def _key_message(key: Path, *, absent: bool) -> str:
    why = f"clé absente ({key})" if absent else "la clé donnée n'est pas la sienne"
    return (f"Sauvegarde chiffrée : {why}. Donnez la « clé des sauvegardes USB » de la fiche d'installation "
            "du site d'origine dans un fichier, avec --key-file FICHIER.")


def _open_or_create(cfg: Config, repository: Path, key: Path) -> None:
    if (repository / "config").is_file():
        _restic(cfg, repository, key, "unlock")  # a stick pulled out mid-copy leaves its lock behind
        probe = _restic(cfg, repository, key, "cat", "config")
        if probe.returncode == 0:
            return
        if restic.wrong_key(probe.stderr):
            raise StickKeyRefused("la clé USB contient des sauvegardes chiffrées avec une autre clé (ancienne "
                                  "carte SD ?) : gardez-la pour une restauration et branchez une autre clé USB")
        raise BackupError(f"dépôt chiffré de la clé USB illisible : {restic.last_line(probe.stderr)}")
    repository.parent.mkdir(exist_ok=True)  # the site's folder; the stick's own folder is never re-created
    created = _restic(cfg, repository, key, "init")
    if created.returncode != 0:
        raise BackupError(f"restic n'a pas pu préparer la clé USB : {restic.last_line(created.stderr)}")


def _snapshots(cfg: Config, repository: Path, key: Path) -> dict[str, str]:
    """Backup creation time (its manifest's ``created_at``, a tag) → snapshot id, for this site."""
    listed = _restic(cfg, repository, key, "snapshots", "--json", "--host", cfg.site.id, "--tag", TAG)
    if listed.returncode != 0:
        raise BackupError(f"restic n'a pas pu lire la clé USB : {restic.last_line(listed.stderr)}")
    found = {}
    for snapshot in json.loads(listed.stdout or "[]"):
        for tag in snapshot.get("tags") or ():
            if tag.startswith("created="):
                found[tag.removeprefix("created=")] = snapshot["id"]
    return found


def _backup(cfg: Config, repository: Path, key: Path, data_file: Path, manifest: Manifest
            ) -> subprocess.CompletedProcess[str]:
    return _restic(cfg, repository, key, "backup", "--host", cfg.site.id, "--tag", TAG,
                   "--tag", f"created={manifest.created_at}", data_file.name, manifest_path_for(data_file).name,
                   cwd=data_file.parent)


def _forget(cfg: Config, repository: Path, key: Path, *, keep: int) -> None:
    # Grouped by host only: each copy has its own file names, and restic groups by paths by default.
    done = _restic(cfg, repository, key, "forget", "--host", cfg.site.id, "--tag", TAG, "--group-by", "host",
                   "--keep-last", str(keep), "--prune")
    if done.returncode != 0:
        raise BackupError(f"restic n'a pas pu libérer la clé USB : {restic.last_line(done.stderr)}")


def _restic(cfg: Config, repository: Path, key: Path, *args: str, cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
    """restic on the stick's repository, stopped at once if the stick is pulled out meanwhile."""
    watched = repository if repository.is_dir() else repository.parent
    identity = folder_identity(watched)
    return restic.run(cfg.backup.restic_binary, str(repository), key, *args, cwd=cwd, timeout=TIMEOUT_S,
                      alive=lambda: not pulled_out(watched, identity))
