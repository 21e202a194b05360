"""The layering of docs/architecture.md, enforced: a new forbidden import fails here.

The scan reads every module of ``appliance`` with ``ast`` (imports at the top, inside functions
and under ``TYPE_CHECKING`` alike) and follows the imports transitively, as import-linter's
forbidden contracts do: ``emr → config → power.settings`` would count as the web importing power
(which is why the sections' dataclasses live in ``appliance.settings``). It also follows what
Python runs that no import names: the ``__init__`` of every package above an imported module.
``importlib.import_module`` with a string is not seen; the CLI's lazy sub-commands are the only
such use, and they are entry points, not layers.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

import appliance

ROOT = Path(appliance.__file__).parent


@dataclass(frozen=True)
class Forbidden:
    """No module under ``sources`` may reach, directly or not, a module under ``forbidden``
    (except those under ``allowed``). ``ignored`` imports (importer, imported) are not followed:
    each is an entry point that composes the process, named here with its reason."""

    name: str
    sources: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()
    ignored: tuple[tuple[str, str], ...] = ()


HARDWARE = ("appliance.power", "appliance.modem", "appliance.agent")
CONTRACTS = (
    Forbidden("clinical rules import nothing of the app", ("appliance.clinical",), ("appliance",),
              allowed=("appliance.clinical",)),
    Forbidden("store, reports, facility, dhis2, outbox, referrals, the link and the hardware never import the web",
              ("appliance.store", "appliance.reports", "appliance.facility", "appliance.dhis2", "appliance.outbox",
               "appliance.referrals", "appliance.link", "appliance.district", *HARDWARE),
              ("appliance.emr",)),
    Forbidden("the web never imports power, modem or agent (they meet in SQLite)", ("appliance.emr",), HARDWARE),
    Forbidden("the store is the bottom: it imports only itself and the file helper", ("appliance.store",),
              ("appliance",), allowed=("appliance.store", "appliance.files")),
    Forbidden("reports hands figures to DHIS2, never the reverse", ("appliance.reports",), ("appliance.dhis2",)),
    Forbidden("the outbox names no sender (they come from the hook registry)", ("appliance.outbox",),
              ("appliance.dhis2.sender", "appliance.backup.offsite", "appliance.telemetry.sender"),
              # `appliance outbox flush` is a process of its own: it composes the senders at start.
              ignored=(("appliance.outbox.cli", "appliance.wiring"),)),
    Forbidden("the record calls the follow-up through the patient_written hook only", ("appliance.patients",),
              ("appliance.followup", "appliance.wiring")),
    Forbidden("the box and the district service meet only over HTTP: neither imports the other",
              ("appliance.link", "appliance.emr", "appliance.agent"), ("appliance.district",)),
    Forbidden("provisioning uses the backup's pieces, never the reverse", ("appliance.backup",),
              ("appliance.provision",)),
)


def module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def import_graph(root: Path = ROOT, package: str = "appliance") -> dict[str, set[str]]:
    """module → the package's modules it imports (``from a import b``: ``a.b`` when it is a module)."""
    paths = {module_name(path, root, package): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                imported.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base
                                for alias in node.names)
        graph[name] = {_known(module, paths) for module in imported if module.split(".")[0] == package} - {None}
    return graph


def _known(module: str, paths: dict) -> str | None:
    while module and module not in paths:
        module = module.rpartition(".")[0]
    return module or None


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def violations(graph: dict[str, set[str]], contract: Forbidden) -> list[list[str]]:
    """One shortest import chain per forbidden module reached from the contract's sources."""
    found: dict[str, list[str]] = {}
    for source in sorted(module for module in graph if _under(module, contract.sources)):
        chains = {source: [source]}
        queue = deque([source])
        while queue:
            current = queue.popleft()
            for target in sorted(runs(graph, current)):
                if target in chains or (current, target) in contract.ignored:
                    continue
                chains[target] = [*chains[current], target]
                if _under(target, contract.forbidden) and not _under(target, contract.allowed):
                    found.setdefault(target, chains[target])
                elif not _under(target, contract.forbidden) or _under(target, contract.allowed):
                    queue.append(target)
    return [found[target] for target in sorted(found)]


def runs(graph: dict[str, set[str]], module: str) -> set[str]:
    """What importing ``module`` runs: its imports, and the ``__init__`` of each package above it
    (Python runs ``appliance.settings`` before ``appliance.settings.power``). The root package is left
    out: it holds only the version."""
    parts = module.split(".")
    packages = {".".join(parts[:depth]) for depth in range(2, len(parts))}
    return graph.get(module, set()) | (packages & graph.keys())


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


@pytest.mark.parametrize("contract", CONTRACTS, ids=[contract.name for contract in CONTRACTS])
def test_the_layering_holds(graph, contract):
    broken = violations(graph, contract)
    assert not broken, contract.name + ":\n" + "\n".join(" → ".join(chain) for chain in broken)


# --- The test of the test: a forbidden import, direct or through another module, is caught ------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "appliance"
    for relative, text in {"__init__.py": "", **files}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in path.relative_to(root).parents:
            (root / folder / "__init__.py").touch()
        path.write_text(text, encoding="utf-8")
    return root


def test_a_direct_forbidden_import_is_caught(tmp_path):
    root = _tree(tmp_path, {"emr/page.py": "from appliance.power.history import HistoryRecorder\n",
                            "power/history.py": "class HistoryRecorder: ...\n"})
    (chain,) = violations(import_graph(root), CONTRACTS[2])
    assert chain == ["appliance.emr.page", "appliance.power.history"]


def test_an_import_inside_a_function_or_through_another_module_is_caught(tmp_path):
    root = _tree(tmp_path, {
        "emr/page.py": "def view():\n    from appliance import config\n",
        "config.py": "from .agent.settings import UploadSettings\n",
        "agent/settings.py": "UploadSettings = object\n",
        "clinical/rules.py": "import appliance.store.db\n",
        "store/db.py": "",
    })
    graph = import_graph(root)
    assert violations(graph, CONTRACTS[2]) == [["appliance.emr.page", "appliance.config", "appliance.agent.settings"]]
    assert violations(graph, CONTRACTS[0]) == [["appliance.clinical.rules", "appliance.store.db"]]


def test_a_forbidden_import_run_by_a_package_init_is_caught(tmp_path):
    # Importing appliance.settings.power runs appliance/settings/__init__.py first, as Python does.
    root = _tree(tmp_path, {"emr/page.py": "from appliance.settings.power import PowerSettings\n",
                            "settings/__init__.py": "from appliance.power.history import HistoryRecorder\n",
                            "settings/power.py": "PowerSettings = object\n",
                            "power/history.py": "class HistoryRecorder: ...\n"})
    assert violations(import_graph(root), CONTRACTS[2]) == [
        ["appliance.emr.page", "appliance.settings.power", "appliance.settings", "appliance.power.history"]]


def test_allowed_imports_pass(tmp_path):
    root = _tree(tmp_path, {"emr/page.py": "from appliance.store.device import last_days\n",
                            "store/device.py": "from appliance.files import write_atomically\n",
                            "files.py": "", "clinical/growth.py": "from appliance.clinical import schedules\n",
                            "clinical/schedules.py": ""})
    graph = import_graph(root)
    assert all(violations(graph, contract) == [] for contract in CONTRACTS)


def test_a_forbidden_import_added_to_the_real_tree_fails(graph):
    broken = {module: set(imported) for module, imported in graph.items()}
    broken["appliance.emr.power"].add("appliance.power.history")
    assert [chain[-2:] for chain in violations(broken, CONTRACTS[2])] == [["appliance.emr.power",
                                                                            "appliance.power.history"]]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Modules that import each other, directly or in a ring (imports inside functions included)."""
    order: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        order[module] = lowest[module] = len(order)
        stack.append(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in order:
                visit(imported)
                lowest[module] = min(lowest[module], lowest[imported])
            elif imported in stack:
                lowest[module] = min(lowest[module], order[imported])
        if lowest[module] == order[module]:
            ring = []
            while not ring or ring[-1] != module:
                ring.append(stack.pop())
            if len(ring) > 1:
                found.append(sorted(ring))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return found


def test_no_module_imports_itself_back(graph):
    assert cycles(graph) == []


def test_a_cycle_through_a_function_import_is_caught(tmp_path):
    root = _tree(tmp_path, {"followup/contacts.py": "def record():\n    from appliance.followup import service\n",
                            "followup/service.py": "from appliance.followup import contacts\n"})
    assert cycles(import_graph(root)) == [["appliance.followup.contacts", "appliance.followup.service"]]


# --- No two packages import each other: one direction between any two parts -------------------------

# Entry points that compose their own process may import the composition that imports their package.
COMPOSING_ENTRY_POINTS = (("appliance.outbox.cli", "appliance.wiring"),)  # `appliance outbox flush`


def package_of(module: str) -> str:
    """``appliance.dhis2.mapping`` → ``appliance.dhis2``; a top-level module is its own part."""
    return ".".join(module.split(".")[:2])


def mutual_packages(graph: dict[str, set[str]], ignored=COMPOSING_ENTRY_POINTS) -> list[list[str]]:
    """Pairs of parts that import each other directly, each with one import either way, e.g.
    ``settings.dhis2 → dhis2.mapping`` and ``dhis2.client → settings.dhis2``."""
    first: dict[tuple[str, str], tuple[str, str]] = {}
    for module in sorted(graph):
        for imported in sorted(graph[module]):
            pair = (package_of(module), package_of(imported))
            if pair[0] != pair[1] and (module, imported) not in ignored:
                first.setdefault(pair, (module, imported))
    return [[" → ".join(first[(a, b)]), " → ".join(first[(b, a)])]
            for a, b in sorted(first) if a < b and (b, a) in first]


def test_no_two_packages_import_each_other(graph):
    assert mutual_packages(graph) == []


def test_a_mutual_import_between_packages_is_caught(tmp_path):
    root = _tree(tmp_path, {"settings/dhis2.py": "from appliance.dhis2.mapping import is_uid\n",
                            "dhis2/mapping.py": "def is_uid(value): ...\n",
                            "dhis2/client.py": "from appliance.settings.dhis2 import Dhis2Settings\n"})
    assert mutual_packages(import_graph(root)) == [["appliance.dhis2.client → appliance.settings.dhis2",
                                                    "appliance.settings.dhis2 → appliance.dhis2.mapping"]]
    assert cycles(import_graph(root)) == []  # no module cycle: only the package-level rule sees it
