"""Running restic, the one encrypted format of the box's copies that leave it (off-site repository
and USB sticks): the key always from a file (never the command line or the environment's
RESTIC_PASSWORD), a small garbage-collection target for the Pi's 512 MB, and restic's own words
read into the few cases that need a person."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

NO_REPOSITORY = ("Is there a repository at the following location?", "repository does not exist")
WRONG_KEY = ("wrong password", "no key found")
WATCH_S = 0.2  # how often ``alive`` is asked while restic runs
STOPPED = "restic arrêté : son dépôt n'est plus là (clé USB retirée ?)"


def run(binary: str, repository: str, key_file: Path, *args: str, options: tuple[str, ...] = (),
        cache_dir: Path | None = None, cwd: Path | None = None, timeout: float,
        alive: Callable[[], bool] | None = None) -> subprocess.CompletedProcess[str]:
    """``restic [options] args`` on ``repository`` with the key in ``key_file`` (no cache without
    ``cache_dir``: a stick's repository is read rarely and its cache would only wear the SD card).

    With ``alive``, restic is stopped as soon as it answers False (the stick was pulled out): left
    alone, restic retries for minutes, re-creating the repository's folders under the empty mount
    point, and may even report a snapshot saved there."""
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": repository,
        "RESTIC_PASSWORD_FILE": str(key_file),
        "GOGC": "25",  # the Pi has 512 MB for everything: collect garbage early
    }
    env.pop("RESTIC_PASSWORD", None)
    env.pop("RESTIC_PASSWORD_COMMAND", None)
    if cache_dir is not None:
        env["RESTIC_CACHE_DIR"] = str(cache_dir)
    cache = () if cache_dir is not None else ("--no-cache",)
    command = [binary, *cache, *options, *args]
    if alive is None:
        return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    return _watched(command, env, cwd, timeout, alive)


def _watched(command: list[str], env: dict[str, str], cwd: Path | None, timeout: float,
             alive: Callable[[], bool]) -> subprocess.CompletedProcess[str]:
    deadline = time.monotonic() + timeout
    with subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        while True:
            try:
                out, err = process.communicate(timeout=WATCH_S)
                return subprocess.CompletedProcess(command, process.returncode, out, err)
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    process.kill()
                    process.communicate()
                    raise subprocess.TimeoutExpired(command, timeout) from None
                if not alive():
                    process.kill()
                    out, err = process.communicate()
                    return subprocess.CompletedProcess(command, process.returncode, out, f"{err}\n{STOPPED}")


def wrong_key(stderr: str) -> bool:
    return any(marker in stderr.lower() for marker in WRONG_KEY)


def no_repository(stderr: str) -> bool:
    return any(marker in stderr for marker in NO_REPOSITORY)


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "erreur inconnue"
