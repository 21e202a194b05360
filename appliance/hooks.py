"""The one hook registry: how a lower layer calls into a higher one without importing it.

A hook point is a name with a documented signature (``POINTS``). Nothing registers itself when a
module is imported: the process that composes the parts (the web's ``create_app``, the agent,
the CLI's ``outbox flush``, see ``appliance.wiring``) builds one ``Hooks``, adds each part's
implementations to it, and installs it. The record's write path (``appliance.patients``) reads
the installed registry, so a test or a command that installs none runs the bare record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PATIENT_WRITTEN = "patient_written"
CHART_EXTRAS = "chart_extras"
HOME_TILE = "home_tile"
HOME_TODAY = "home_today"
OUTBOX_SENDERS = "outbox_senders"

POINTS: dict[str, str] = {
    PATIENT_WRITTEN: "hook(actor, patient, visit) inside the write's transaction, after every visit "
                     "written, corrected or voided (visit None: registration, identity, merge); raising "
                     "cancels the write",
    CHART_EXTRAS: "hook(patient) -> dict of extra template variables for the patient chart",
    HOME_TILE: "a Tile (label, endpoint, permission, order, badge) on the home page",
    HOME_TODAY: "hook(today) -> a home.Today section (count, first lines, link) for the user of the request, "
                "or None when it has nothing for that user",
    OUTBOX_SENDERS: "hook(cfg) -> {kind: sender(item) -> Outcome}: who delivers each kind of outbox item",
}


class UnknownHookPoint(KeyError):
    """A registration or a call names a point that ``POINTS`` does not define (a typo)."""


class Hooks:
    """Implementations per hook point, in the order they were added."""

    def __init__(self) -> None:
        self._by_point: dict[str, list[Any]] = {point: [] for point in POINTS}

    def add(self, point: str, implementation: Any) -> Any:
        """Add ``implementation`` to ``point`` (once); returns it, so it can serve as a decorator."""
        implementations = self._implementations(point)
        if implementation not in implementations:
            implementations.append(implementation)
        return implementation

    def remove(self, point: str, implementation: Any) -> None:
        implementations = self._implementations(point)
        if implementation in implementations:
            implementations.remove(implementation)

    def each(self, point: str) -> tuple[Any, ...]:
        return tuple(self._implementations(point))

    def call(self, point: str, *args: Any, **kwargs: Any) -> list[Any]:
        """Call every implementation of ``point`` in order; their results, in the same order."""
        return [implementation(*args, **kwargs) for implementation in self.each(point)]

    def _implementations(self, point: str) -> list[Any]:
        try:
            return self._by_point[point]
        except KeyError:
            raise UnknownHookPoint(point) from None


_installed = Hooks()  # empty until a process installs the registry it composed


def install(hooks: Hooks) -> Hooks:
    """Make ``hooks`` the process's registry; returns the one it replaces."""
    global _installed
    previous, _installed = _installed, hooks
    return previous


def installed() -> Hooks:
    return _installed


@contextmanager
def installed_for(hooks: Hooks) -> Iterator[Hooks]:
    """Install ``hooks`` for the duration of a block (tests, one command), then put back the previous."""
    previous = install(hooks)
    try:
        yield hooks
    finally:
        install(previous)

