"""Whether an application wheel runs on a box's venv: every dependency it declares is already there.

An application bundle carries the appliance's wheel alone; its dependencies must be in the venv the
box's system brought (a new or newer dependency comes with a system bundle). The same check runs
when a release is made (against the image the clinics run) and on the box before the switch
(against its own venv), so a bundle needing a wheel the box lacks is refused in French, before
anything runs it.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from appliance.update.bundle import BundleRefused

# The Pi's Python as Debian 12 ships it (image/build.py's PYTHON_TAG): markers are judged for it
# when the release is made on another machine.
BOX_ENVIRONMENT = {"python_version": "3.11", "python_full_version": "3.11.2", "sys_platform": "linux",
                   "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix",
                   "implementation_name": "cpython", "platform_python_implementation": "CPython"}
_DIST_INFO = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)\.dist-info$")


def wheel_metadata(wheel: Path) -> tuple[str, str, list[str]]:
    """(name, version, Requires-Dist lines) from the wheel's own METADATA."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            name = next(member for member in archive.namelist()
                        if member.count("/") == 1 and member.endswith(".dist-info/METADATA"))
            headers = HeaderParser().parsestr(archive.read(name).decode("utf-8"))
    except (OSError, zipfile.BadZipFile, StopIteration, UnicodeDecodeError) as exc:
        raise BundleRefused(f"Roue Python illisible ({wheel.name}) : pas de METADATA.") from exc
    return str(headers["Name"] or ""), str(headers["Version"] or ""), headers.get_all("Requires-Dist") or []


def unmet(requirements: list[str], installed: Mapping[str, str],
          environment: Mapping[str, str] | None = None) -> list[str]:
    """The requirements ``installed`` (name → version) does not satisfy, in words; extras ignored."""
    env = {**default_environment(), **(environment or {}), "extra": ""}
    versions = {canonicalize_name(name): version for name, version in installed.items()}
    missing = []
    for line in requirements:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            missing.append(f"« {line} » (illisible)")
            continue
        if requirement.marker is not None and not requirement.marker.evaluate(env):
            continue
        have = versions.get(canonicalize_name(requirement.name))
        wanted = f"{requirement.name}{requirement.specifier}"
        if have is None:
            missing.append(f"{wanted} (absent)")
            continue
        try:
            ok = requirement.specifier.contains(Version(have), prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            missing.append(f"{wanted} (l'appareil a {have})")
    return missing


def check_wheel(wheel: Path, installed: Mapping[str, str], environment: Mapping[str, str] | None = None) -> None:
    """BundleRefused, in French, when the wheel needs a dependency the box's venv lacks."""
    _, _, requirements = wheel_metadata(wheel)
    missing = unmet(requirements, installed, environment)
    if missing:
        raise BundleRefused("Paquet d'application refusé : il demande des bibliothèques que l'appareil n'a pas ("
                            + " ; ".join(missing) + "). Elles viendront avec un paquet système.")


def running_venv() -> dict[str, str]:
    """What this process's venv holds (on the box: the system's, the updater never runs a release)."""
    return {dist.metadata["Name"]: dist.version for dist in metadata.distributions() if dist.metadata["Name"]}


def venv_from_listing(names: list[str]) -> dict[str, str]:
    """name → version from the ``*.dist-info`` folder names of a site-packages listing."""
    found: dict[str, str] = {}
    for name in names:
        match = _DIST_INFO.match(name)
        if match:
            found[match["name"]] = match["version"]
    return found
