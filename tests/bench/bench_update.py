"""Updates on the bench rig, beside the whole-machine figures of the emulated Pi (tests/boot/test_updates.py
and test_system_updates.py own ``update_app_bytes_wire``, ``update_rollback_s`` and
``update_install_powercut_cycles``):

``update_app_bytes_http_bodies`` (the project's real application bundle fetched in windows of 300 kB,
index included: HTTP bodies only, ~0.3 kB of headers per request and TCP on top),
``update_app_rollback_judge_s`` (a broken application release found unhealthy at the end of its trial →
the previous release current again and the journal written; the trial itself, ``update.trial_s`` = 300 s,
and the services' restart come on top) and ``update_install_powercut_rig_cycles`` (installs of a 64 MB
system image by the real RAUC service into file slots, cut at random moments, each followed by a check
that the rig boots a whole system; ``update_install_powercut_rig_failures`` beside it).
BENCH_UPDATE_CUTS sets the number of cuts (20).
"""

from __future__ import annotations

import os
import shutil
import time

from tests.bench.support import BUILD

WORK = BUILD / "update-bench"


def run() -> dict:
    from tests.update.bundles import make_keys, needs_rauc

    needs_rauc()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    keys = make_keys(WORK / "keys", "release")
    figures = {"update_app_bytes_http_bodies": app_bytes_on_the_wire(keys),
               "update_app_rollback_judge_s": rollback_s(keys)}
    figures.update(install_cuts(keys, int(os.environ.get("BENCH_UPDATE_CUTS", "20"))))
    shutil.rmtree(WORK, ignore_errors=True)
    return figures


def app_bytes_on_the_wire(keys) -> int:
    from appliance.update.download import fetch_bundle, read_offer
    from appliance.update.release import write_index
    from tests.update.apps import app_bundle, real_wheel
    from tests.update.release_server import ReleaseServer

    folder = WORK / "releases"
    folder.mkdir()
    bundle = app_bundle(folder, keys, "9.0.0", wheel=real_wheel(WORK / "wheel"))
    write_index(bundle, "9.0.0")
    with ReleaseServer(folder) as server:
        while True:
            offer, _ = read_offer(server.url + "latest.json", timeout_s=30)
            result = fetch_bundle(offer, WORK / "download", max_bytes=2_000_000, deadline_s=600,
                                  byte_budget=300_000)
            if result.bundle is not None:
                return server.bytes_sent


def rollback_s(keys) -> float:
    from appliance.update.health import Health
    from appliance.update.installer import Box, install, judge
    from tests.update.apps import app_bundle
    from tests.update.bundles import COMPATIBLE

    now = [1_000_000.0]
    box = Box(data_dir=WORK / "data", work_dir=WORK / "work", keyring=keys.cert, compatible=COMPATIBLE,
              trial_s=300, slot_bytes=0, restart_services=lambda: None, clock=lambda: now[0])
    box.data_dir.mkdir()
    install(box, app_bundle(WORK, keys, "1.1.0"), installed="1.0.0", channel="usb")
    judge(box, running="1.1.0", health=Health(()))
    install(box, app_bundle(WORK, keys, "1.2.0"), installed="1.1.0", channel="3g")
    now[0] += 301
    started = time.perf_counter()
    back = judge(box, running="1.2.0", health=Health(("le dossier médical ne répond pas",)))
    elapsed = time.perf_counter() - started
    assert back.outcome == "rolled_back" and (box.work_dir / "current").resolve().name == "1.1.0"
    return round(elapsed, 4)


def install_cuts(keys, cycles: int) -> dict:
    from tests.update.bundles import make_bundle
    from tests.update.rauc_rig import Rig, cut_installs

    old, new = os.urandom(4 * 1024 * 1024), os.urandom(64 * 1024 * 1024)
    bundle = make_bundle(WORK, keys, version="2.0.0", images={"rootfs": ("root.ext4", new)}, bundle_format="plain")
    rig = Rig(folder=WORK / "card", keys=keys, slot_bytes=96 * 1024 * 1024)
    try:
        outcomes = cut_installs(rig, bundle, old, new, cycles=cycles)
    finally:
        rig.cut()
    whole = sum(1 for _, ok in outcomes if ok)
    return {"update_install_powercut_rig_cycles": whole,
            "update_install_powercut_rig_failures": len(outcomes) - whole}
