"""An application bundle fetched over 3G a piece at a time, resumed where the last window stopped.

The release server publishes a small index (``latest.json``: version, bundle file name, size)
beside the signed bundles. Each upload window asks for the index, then for the bytes the box
does not have yet (HTTP ``Range``), appending them to a ``.partial`` file synced as it grows: a
link lost or a power cut costs only the bytes of the last unsynced chunk, never a restart from
zero. Nothing is trusted until the whole bundle has passed ``rauc``'s signature and payload
checks; every byte received is counted against the window's data budget.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.files import fsync_folder, write_atomically
from appliance.update.bundle import BundleRefused, parse_version

CHUNK = 64 * 1024
INDEX_MAX_BYTES = 4096


@dataclass(frozen=True)
class Offer:
    version: str
    url: str
    size: int


@dataclass
class FetchResult:
    bytes_received: int = 0
    bundle: Path | None = None  # complete (not yet checked): what the next step installs
    offer: Offer | None = None
    detail: str = ""


def read_offer(index_url: str, *, timeout_s: float, opener: Callable[..., object] = urllib.request.urlopen,
               ) -> tuple[Offer, int]:
    """The published version and its bundle's address and size; and the bytes that cost."""
    with opener(urllib.request.Request(index_url), timeout=timeout_s) as reply:
        raw = reply.read(INDEX_MAX_BYTES + 1)
    if len(raw) > INDEX_MAX_BYTES:
        raise BundleRefused("Index des mises à jour trop long : refusé.")
    try:
        index = json.loads(raw)
        offer = Offer(version=str(index["version"]), url=urllib.parse.urljoin(index_url, str(index["bundle"])),
                      size=int(index["size"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleRefused("Index des mises à jour illisible.") from exc
    parse_version(offer.version)
    return offer, len(raw)


def fetch_bundle(offer: Offer, folder: Path, *, max_bytes: int, deadline_s: float, byte_budget: int | None,
                 opener: Callable[..., object] = urllib.request.urlopen,
                 monotonic: Callable[[], float] = time.monotonic) -> FetchResult:
    """Fetch what is missing of ``offer`` into ``folder`` within the time and byte budgets."""
    if offer.size > max_bytes:
        raise BundleRefused(f"Mise à jour de {offer.size} octets : au-delà du budget 3G ({max_bytes}), "
                            "elle viendra par clé USB.")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"app-{offer.version}.raucb"
    final, partial, meta = folder / name, folder / f"{name}.partial", folder / "download.json"
    result = FetchResult(offer=offer)
    if final.exists():
        result.bundle = final
        return result
    _forget_other_downloads(folder, keep=(partial.name, meta.name), meta=meta, offer=offer)
    write_atomically(meta, json.dumps({"version": offer.version, "url": offer.url, "size": offer.size}))
    have = partial.stat().st_size if partial.exists() else 0
    if have > offer.size:
        partial.unlink()
        have = 0
    started = monotonic()
    while have < offer.size:
        left_s = deadline_s - (monotonic() - started)
        allowance = offer.size - have if byte_budget is None else min(offer.size - have,
                                                                      byte_budget - result.bytes_received)
        if left_s <= 0 or allowance <= 0:
            result.detail = f"mise à jour {offer.version} : {have}/{offer.size} octets, suite à la prochaine fenêtre"
            return result
        request = urllib.request.Request(offer.url, headers={"Range": f"bytes={have}-{have + allowance - 1}"})
        try:
            reply = opener(request, timeout=max(1.0, left_s))
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # the server has nothing past what we hold: start again
                partial.unlink(missing_ok=True)
                have = 0
                continue
            raise
        with reply, open(partial, "ab") as out:
            if getattr(reply, "status", 200) != 206:  # no Range support: the whole file, from the start
                out.truncate(0)
                have = 0
            while True:
                chunk = reply.read(min(CHUNK, offer.size - have))
                if not chunk:
                    break
                out.write(chunk)
                have += len(chunk)
                result.bytes_received += len(chunk)
                if have % (4 * CHUNK) < len(chunk):
                    out.flush()
                    os.fsync(out.fileno())
                if have >= offer.size or (byte_budget is not None and result.bytes_received >= byte_budget):
                    break
            out.flush()
            os.fsync(out.fileno())
    os.replace(partial, final)
    fsync_folder(folder)
    result.bundle = final
    result.detail = f"mise à jour {offer.version} reçue ({offer.size} octets)"
    return result


def _forget_other_downloads(folder: Path, *, keep: tuple[str, ...], meta: Path, offer: Offer) -> None:
    """A newer version published mid-download: the old pieces are dropped, not mixed in."""
    try:
        previous = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = None
    if previous == {"version": offer.version, "url": offer.url, "size": offer.size}:
        return
    for path in folder.glob("*.partial"):
        if path.name not in keep or previous is not None:
            path.unlink()


def download_progress(folder: Path) -> dict[str, Any] | None:
    """The download under way or finished (version, bytes received, size), for status and telemetry."""
    try:
        meta = json.loads((folder / "download.json").read_text(encoding="utf-8"))
        name = f"app-{meta['version']}.raucb"
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for path in (folder / name, folder / f"{name}.partial"):
        if path.exists():
            return {"version": meta["version"], "received": path.stat().st_size, "size": meta["size"]}
    return None
