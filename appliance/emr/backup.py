"""The Backups page: the last verified copy, the last copy on a USB stick, the off-site copy, and
what staff do about them. Read-only (GET): everything comes from what the backup code recorded
(``appliance.backup.status``), so the page tells the truth even when the agent is stopped."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, render_template

from appliance.backup import status as backup_status
from appliance.backup.local import backups_folder, usb_media_for
from appliance.emr.home import Tile
from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import number_text
from appliance.emr.security import requires

bp = Blueprint("backup", __name__, url_prefix="/admin/sauvegardes")
TILES = (
    Tile(_l("Sauvegardes"), "backup.status", "backup.read", order=86,
         badge=lambda: _("à vérifier") if backup_status.needs_attention() else None),
)  # on the home page (composed in create_app)

CAUSES = {
    "disk_full": _l("carte SD pleine : plus assez de place pour la copie"),
    "stick_full": _l("clé USB pleine"),
    "stick_bad": _l("clé USB défectueuse : la copie relue ne correspond pas à l'original"),
    "stick_removed": _l("clé USB retirée ou illisible pendant la copie"),
    "no_stick": _l("clé USB absente"),
    "read_only": _l("support en lecture seule (clé verrouillée ou carte SD abîmée)"),
    "permission": _l("droits insuffisants sur le dossier des sauvegardes"),
    "damaged": _l("base de données endommagée : le contrôle d'intégrité a échoué"),
    "db_missing": _l("base de données introuvable"),
    "io_error": _l("erreur de lecture ou d'écriture sur le support"),
    "no_key": _l("clé de chiffrement absente : elle est installée par le technicien"),
    "wrong_key": _l("le serveur de sauvegarde refuse la clé de chiffrement : prévenir le technicien"),
    "not_configured": _l("sauvegarde hors site non configurée"),
    "not_prepared": _l("aucune copie préparée : la sauvegarde de nuit n'a pas tourné"),
    "busy": _l("copie en cours de préparation : nouvel essai plus tard"),
    "link_down": _l("serveur de sauvegarde injoignable (pas de connexion internet ?)"),
    "interrupted": _l("envoi interrompu (connexion coupée ?) : il reprendra à la prochaine fenêtre d'envoi"),
    "restic_failed": _l("le programme de copie hors site (restic) n'a pas pu tourner"),
    "other": _l("erreur inattendue (détail ci-dessous)"),
}

REASONS = {
    "nightly": _l("de nuit"),
    "manual": _l("à la demande"),
    "pre-upgrade": _l("avant mise à jour"),
    "export": _l("export"),
    "offsite": _l("reprise hors site"),
    "usb": _l("pour une clé USB branchée"),
}


@bp.route("/")
@requires("backup.read")
def status():
    cfg = current_app.config["APPLIANCE"]
    state = backup_status.collect(cfg, usb_media_for(cfg))
    zone = cfg.uploads.zone()

    def when(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M") if moment else ""

    return render_template(
        "backup/status.html",
        state=state,
        problems=[(problem.severity, _problem_text(problem, when, state), problem.run)
                  for problem in state.problems],
        when=when,
        size=size_text,
        cause=lambda run: CAUSES.get(run.cause, CAUSES["other"]),
        reasons=REASONS,
        marker=cfg.backup.usb_marker,
        nightly_at=cfg.backup.nightly_at,
        keep_local=cfg.backup.keep_local,
        keep_usb=cfg.backup.keep_usb,
        folder=backups_folder(cfg),
    )


def _problem_text(problem: backup_status.Problem, when, state: backup_status.BackupStatus) -> str:
    run = problem.run
    cause = CAUSES.get(run.cause, CAUSES["other"]) if run is not None and run.cause else ""
    texts = {
        "never": lambda: _("Aucune sauvegarde vérifiée n'existe encore."),
        "stale": lambda: _("La dernière sauvegarde vérifiée date de plus de 48 heures (%(when)s, il y a %(hours)s h) : "
                           "l'appareil était-il éteint la nuit, ou le service appliance-agent arrêté ?",
                           when=when(run.at), hours=problem.hours),
        "local_failed": lambda: _("La dernière sauvegarde (%(when)s) a échoué : %(cause)s.", when=when(run.at),
                                  cause=cause),
        "no_copy_kept": lambda: _("Aucune copie n'est présente dans le dossier des sauvegardes de la carte SD."),
        "low_space": lambda: _("Place presque épuisée sur la carte SD : %(free)s libres, %(needed)s nécessaires "
                               "pour la prochaine sauvegarde.", free=size_text(state.free_bytes),
                               needed=size_text(state.needed_bytes)),
        "usb_never": lambda: _("Aucune copie n'a encore été faite sur une clé USB : les données n'existent que "
                               "dans l'appareil."),
        "usb_absent": lambda: _("Clé USB absente lors de la dernière sauvegarde de nuit (%(when)s) : la copie de "
                                "cette nuit n'existe que dans l'appareil.", when=when(run.at)),
        "usb_failed": lambda: _("La dernière copie sur clé USB (%(when)s) a échoué : %(cause)s.", when=when(run.at),
                                cause=cause),
        "offsite_blocked": lambda: _("La copie hors site est bloquée : une action du technicien est nécessaire."),
        "offsite_failed": lambda: _("Le dernier envoi hors site (%(when)s) a échoué : %(cause)s.", when=when(run.at),
                                    cause=cause),
        "offsite_stale": lambda: _("La dernière copie hors site reçue date du %(when)s (il y a %(days)s jours) : "
                                   "une part toutes les %(every)s nuits ; la connexion 3G passe-t-elle ?",
                                   when=when(run.at), days=problem.hours // 24, every=state.offsite.every_days),
    }
    return texts[problem.code]()


def size_text(count: int) -> str:
    """Bytes for people, French style: ``820 Ko``, ``35,2 Mo``."""
    if count < 1_000_000:
        return _("%(n)s Ko", n=max(1, round(count / 1000)) if count else 0)
    if count < 1_000_000_000:
        return _("%(n)s Mo", n=number_text(count / 1_000_000, ".1f"))
    return _("%(n)s Go", n=number_text(count / 1_000_000_000, ".2f"))
