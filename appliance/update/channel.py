"""The 3G channel, run by the agent inside an upload window: ask what is published, fetch a piece.

The agent only downloads (into ``<work_dir>/download``, its own folder); installing is the root
timer's ``appliance update check``, which never touches the network. A version refused, failed or
rolled back once is not fetched again: it would cost the same bytes for the same end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance.update.bundle import BundleRefused, parse_version
from appliance.update.download import fetch_bundle, read_offer
from appliance.update.journal import read_journal

if TYPE_CHECKING:
    from appliance.config import Config

INDEX_TIMEOUT_S = 60.0


def fetch_in_window(cfg: Config, *, deadline_s: float, byte_budget: int | None,
                    running: str | None = None) -> tuple[int, str]:
    """(bytes received, a line for the window's log)."""
    from appliance.update.machine import services_version

    running = running or services_version(cfg.update.work_dir)
    offer, spent = read_offer(cfg.update.app_url, timeout_s=min(INDEX_TIMEOUT_S, deadline_s))
    if parse_version(offer.version) <= parse_version(running):
        return spent, ""
    journal = read_journal(cfg.paths.data_dir)
    if journal.pending is not None:
        return spent, f"mise à jour {offer.version} disponible : attend la fin de l'essai en cours"
    if journal.last and journal.last.outcome != "kept" and \
            journal.last.version in (offer.version, f"app-{offer.version}.raucb"):
        return spent, f"mise à jour {offer.version} déjà {journal.last.outcome} : pas retéléchargée"
    try:
        result = fetch_bundle(offer, cfg.update.work_dir / "download", max_bytes=cfg.update.app_max_bytes,
                              deadline_s=deadline_s, byte_budget=None if byte_budget is None else byte_budget - spent)
    except BundleRefused as exc:
        return spent, str(exc)
    return spent + result.bytes_received, result.detail
