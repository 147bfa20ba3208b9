"""The shape of the code (README, "Layout"): layered imports without circles, small modules, a torch-free
theory and CLI help."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "jacstab"
# lower rank = lower layer; a module may import only modules of the same or a lower rank
LAYERS = {
    "_checks": 0, "_version": 0, "_threads": 0, "specs_correlation": 1, "specs": 1, "theory": 2, "correlation": 3,
    "nets": 3, "pruning": 4, "engine": 5, "certificate": 6, "usermodel": 6, "stats": 6, "training": 6, "lab": 7,
    "output": 8, "cli": 8, "__init__": 9, "__main__": 9,
}  # fmt: skip
MAX_LINES = 400


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else "__init__"


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts)
        yield name.removesuffix(".__init__"), path


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """``from a.b import c`` counts as an import of ``a.b.c`` where that is a module, else of ``a.b``."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jacstab"):
            subs = {f"{node.module}.{a.name}" for a in node.names}
            mods = {m for m in subs if _is_module(m)}
            out |= mods if mods == subs else mods | {node.module}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("jacstab")}
    return out


def test_imports_point_downwards_only():
    bad = []
    for name, path in _modules():
        if name == "jacstab":
            continue
        for target in _imports(path):
            if target == "jacstab" and _part(name) not in ("__init__", "__main__", "cli"):  # the CLI uses the API
                bad.append(f"{name} imports the package root")
            elif target != "jacstab" and LAYERS[_part(target)] > LAYERS[_part(name)]:
                bad.append(f"{name} -> {target}")
    assert not bad, bad


def test_no_import_circle_between_modules():
    graph = {name: {t for t in _imports(path) if t != "jacstab"} for name, path in _modules()}
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                pytest.fail(f"import circle: {' -> '.join([*stack, node, nxt])}")
            if nxt in graph and state.get(nxt) is None:
                visit(nxt, [*stack, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def test_no_module_over_400_lines():
    long = {name: n for name, path in _modules() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_theory_and_cli_help_do_not_import_torch():
    code = (
        "import sys, jacstab.theory\n"
        "jacstab.theory.predict(jacstab.NetSpec(8, 2))\n"
        "assert 'torch' not in sys.modules, 'theory imported torch'\n"
        "from jacstab.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'jacstab --help imported torch'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_the_recurrence_is_written_once():
    # Y_k = W_k phi(Y_{k-1}) lives in nets/layers.py (Dense.forward) and is iterated in Network.states only
    hits = [
        str(path.relative_to(SRC))
        for _, path in _modules()
        if ".phi(" in path.read_text() and path.name not in ("layers.py", "network.py", "activations.py")
    ]
    assert not hits, hits
