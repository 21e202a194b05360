"""``appliance update``: what is installed and pending, install a bundle, judge a trial."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from appliance.commands import config_option, load_config_or_exit


@click.group()
def update() -> None:
    """Mises à jour : version installée, paquet en attente, installation, essai."""


@update.command()
@config_option
def status(config_path: str | None) -> None:
    """Version, emplacement démarré, mise à jour en essai et dernier résultat."""
    from appliance.update.download import download_progress
    from appliance.update.journal import read_journal
    from appliance.update.machine import booted_slot, running_version
    from appliance.update.releases import current_release

    cfg = load_config_or_exit(config_path)
    journal = read_journal(cfg.paths.data_dir)
    click.echo(f"Version en service : {running_version()} (emplacement système {booted_slot()}, "
               f"application {current_release(cfg.update.work_dir) or 'celle du système'})")
    if journal.pending:
        click.echo(f"En essai : {journal.pending.version} ({journal.pending.kind}, {journal.pending.channel}, "
                   f"depuis {journal.pending.at})")
    download = download_progress(cfg.update.work_dir / "download")
    if download:
        click.echo(f"Téléchargement 3G : version {download['version']}, "
                   f"{download['received']}/{download['size']} octets")
    if journal.last:
        last = journal.last
        click.echo(f"Dernière mise à jour : {last.version} → {OUTCOME_FR.get(last.outcome, last.outcome)} "
                   f"le {last.at}{' : ' + last.detail if last.detail else ''}")
    if not (journal.pending or journal.last or download):
        click.echo("Aucune mise à jour faite ni en attente.")


OUTCOME_FR = {"kept": "gardée", "rolled_back": "annulée (retour à la version précédente)", "refused": "refusée",
              "failed": "échouée", "trial": "en essai", "installing": "en cours"}


@update.command()
@config_option
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Technicien : réinstaller la même version ou revenir à une plus ancienne.")
def install(config_path: str | None, bundle: Path, force: bool) -> None:
    """Vérifie puis installe un paquet (.raucb) ; une sauvegarde vérifiée est faite avant."""
    cfg = load_config_or_exit(config_path)
    sys.exit(_install(cfg, bundle, channel="cli", force=force))


@update.command()
@config_option
def usb(config_path: str | None) -> None:
    """Installe le paquet le plus récent trouvé sur une clé USB branchée (dossier appliance-update)."""
    from appliance.update.sticks import stick_bundles

    cfg = load_config_or_exit(config_path)
    found = stick_bundles(cfg.backup.usb_mount_roots, cfg.update.usb_folder)
    if not found:
        click.echo("Aucun paquet de mise à jour sur les clés branchées.")
        return
    sys.exit(_install(cfg, found[-1], channel="usb"))


@update.command()
@config_option
def check(config_path: str | None) -> None:
    """Juge la mise à jour en essai (santé de l'appareil) ; installe un paquet reçu par 3G ou sur clé USB."""
    from appliance.store.migrations import latest_version
    from appliance.update import health
    from appliance.update.installer import judge
    from appliance.update.journal import read_journal
    from appliance.update.machine import SERVICES, real_box, services_version
    from appliance.update.sticks import stick_bundles, untried

    cfg = load_config_or_exit(config_path)
    box = real_box(cfg)
    outcome = None
    if read_journal(cfg.paths.data_dir).pending is not None:  # probes only while a trial runs (cheap idle)
        host = "127.0.0.1" if cfg.web.host in ("0.0.0.0", "::", "") else cfg.web.host
        probes = [lambda: health.web_answers(f"http://{host}:{cfg.web.port}/connexion"),
                  *[(lambda unit=unit: health.service_active(unit)) for unit in SERVICES],
                  lambda: health.database_whole(cfg.paths.database, latest_version())]
        outcome = judge(box, running=services_version(cfg.update.work_dir), health=health.assess(probes))
    if outcome is not None:
        click.echo(f"Mise à jour {outcome.version} : {OUTCOME_FR.get(outcome.outcome, outcome.outcome)} "
                   f"{outcome.detail}")
    if read_journal(cfg.paths.data_dir).pending is not None:
        return
    downloaded = sorted((cfg.update.work_dir / "download").glob("app-*.raucb"))
    if downloaded:
        code = _install(cfg, downloaded[-1], channel="3g", app_max_bytes=cfg.update.app_max_bytes)
        if code != DEFERRED:  # installed or refused (journalled); a deferred one keeps the bytes it cost
            downloaded[-1].unlink(missing_ok=True)
        sys.exit(_timer_exit(code))
    # Remembered on the data partition: the system a stick installed boots the other slot, with the stick
    # still in, and must not try (and refuse) the same copy again.
    stick = untried(stick_bundles(cfg.backup.usb_mount_roots, cfg.update.usb_folder),
                    cfg.paths.data_dir / "update-usb-tried")
    if stick is not None:
        sys.exit(_timer_exit(_install(cfg, stick, channel="usb")))


def _timer_exit(code: int) -> int:
    """The root timer's exit: a refused bundle (anyone's stick, a bad download) is an outcome, journalled
    and sent with the telemetry, not a fault of the box; failing the unit would show the whole system as
    "degraded" for it. A deferred install (its backup failed) stays a failure: something is wrong."""
    return 0 if code == REFUSED else code


@update.command()
@config_option
def confirm(config_path: str | None) -> None:
    """Confirme à U-Boot l'emplacement système démarré (à chaque démarrage), sauf l'essai d'un nouveau système."""
    from appliance.update.bundle import BundleRefused
    from appliance.update.installer import confirm_boot
    from appliance.update.machine import booted_slot, real_box, running_version

    cfg = load_config_or_exit(config_path)
    try:
        confirmed = confirm_boot(real_box(cfg), running=running_version())
    except BundleRefused as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"Emplacement {booted_slot()} confirmé." if confirmed
               else f"Emplacement {booted_slot()} en essai : le juge le confirmera s'il est sain.")


DEFERRED = 1  # _install's exit code when the pre-update backup failed: tried again at the next check
REFUSED = 2  # the bundle was refused (journalled with its reason)


def _install(cfg, bundle: Path, *, channel: str, force: bool = False, app_max_bytes: int | None = None) -> int:
    from appliance.backup.local import run_backup
    from appliance.update.bundle import BundleRefused
    from appliance.update.installer import install as install_bundle
    from appliance.update.machine import real_box, reboot, services_version

    backup = run_backup(cfg, reason="pre-upgrade")
    if not backup.ok:
        click.echo("Mise à jour remise : la sauvegarde d'avant mise à jour a échoué ("
                   + "; ".join(backup.problems) + ")", err=True)
        return DEFERRED
    try:
        attempt = install_bundle(real_box(cfg), bundle, installed=services_version(cfg.update.work_dir),
                                 channel=channel, force=force, app_max_bytes=app_max_bytes)
    except BundleRefused as exc:
        click.echo(str(exc), err=True)
        return REFUSED
    if attempt.kind == "app":
        click.echo(f"Version {attempt.version} installée, en essai : les services ont redémarré avec elle.")
    elif channel == "cli":
        click.echo(f"Version {attempt.version} installée, en essai : redémarrer pour l'essayer.")
    else:  # nobody at the keyboard (a stick, 3G): the new system is tried at once
        click.echo(f"Version {attempt.version} installée, en essai : redémarrage de l'appareil.")
        reboot()
    return 0


# ------------------------------------------------------------------ release maker (never on the box)

def _release_options(command):
    for option in reversed([
        click.option("--cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
                     envvar="APPLIANCE_RELEASE_CERT", help="Certificat de publication (le trousseau des appareils)."),
        click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
                     envvar="APPLIANCE_RELEASE_KEY", help="Clé privée de publication (jamais sur un appareil)."),
        click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=Path("build/release"),
                     show_default=True, help="Dossier où écrire le paquet."),
        click.option("--compatible", default=None, help="Matériel visé (par défaut celui des appareils)."),
    ]):
        command = option(command)
    return command


@update.group("build-bundle")
def build_bundle() -> None:
    """Publication (sur le poste de publication) : paquets RAUC signés, format verity."""


@build_bundle.command("system")
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="L'image construite (make image) ou sa partition racine (ext4).")
@click.option("--version", "version", default=None, help="Version attendue (vérifiée contre l'image).")
@_release_options
def build_system(image: Path, version: str | None, cert: Path, key: Path, output: Path,
                 compatible: str | None) -> None:
    """Paquet système : la racine de l'image, écrite par RAUC dans l'autre emplacement."""
    from appliance.settings.update import UpdateSettings
    from appliance.update.bundle import BundleRefused
    from appliance.update.release import build_system_bundle

    try:
        bundle, made = build_system_bundle(image, compatible=compatible or UpdateSettings.compatible, cert=cert,
                                           key=key, output=output / "system.raucb", version=version)
    except BundleRefused as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    named = bundle.rename(output / f"system-{made}.raucb")
    click.echo(f"Paquet système {made} : {named} ({named.stat().st_size // 1_000_000} Mo)")


@build_bundle.command("app")
@click.option("--wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="La roue de l'application (pip wheel --no-deps .).")
@click.option("--against", type=click.Path(exists=True, path_type=Path), required=True,
              help="Le système des cliniques (image, racine ext4 ou dossier) : ses bibliothèques sont vérifiées.")
@_release_options
def build_app(wheel: Path, against: Path, cert: Path, key: Path, output: Path, compatible: str | None) -> None:
    """Paquet d'application (3G ou clé) et son index latest.json."""
    from appliance.settings.update import UpdateSettings
    from appliance.update.bundle import BundleRefused
    from appliance.update.release import build_app_bundle, venv_of, write_index
    from appliance.update.requirements import wheel_metadata

    try:
        version = wheel_metadata(wheel)[1]
        output.mkdir(parents=True, exist_ok=True)
        bundle = build_app_bundle(wheel, version=version, compatible=compatible or UpdateSettings.compatible,
                                  cert=cert, key=key, output=output / f"app-{version}.raucb",
                                  installed=venv_of(against))
    except BundleRefused as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    write_index(bundle, version)
    click.echo(f"Paquet d'application {version} : {bundle} ({bundle.stat().st_size} octets) et latest.json")
