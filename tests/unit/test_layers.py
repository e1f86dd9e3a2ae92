"""The layers the folders show are the layers the imports keep: the stand-in M12.1 system imports nothing of the
product (so its Grafana's macro expansion is a second implementation the product's is tested against)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_sandbox_imports_nothing_of_the_product():
    modules = sorted((ROOT / "m12_1_sandbox").rglob("*.py"))
    assert len(modules) >= 10
    for path in modules:
        product = sorted(n for n in imported(path) if n.split(".")[0] == "billing_readiness")
        assert product == [], f"{path.relative_to(ROOT)} imports {product}"


ROOMS = ["core", "checks", "config", "reporting", "shell"]  # each may import the rooms before it, never after


def test_no_room_imports_a_higher_one():
    package = ROOT / "plugins" / "billing_readiness"
    for room in ROOMS:
        modules = sorted((package / room).rglob("*.py"))
        assert modules, room
        for path in modules:
            for name in imported(path):
                parts = name.split(".")
                if parts[0] != "billing_readiness" or len(parts) < 2 or parts[1] not in ROOMS:
                    continue
                assert ROOMS.index(parts[1]) <= ROOMS.index(room), f"{path.relative_to(ROOT)} ({room}) imports {name}"


def test_every_module_is_in_a_room():
    package = ROOT / "plugins" / "billing_readiness"
    loose = sorted(p.name for p in package.glob("*.py"))
    assert loose == ["__init__.py", "dag.py", "params.py"], loose  # the package and its two public faces


MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60  # a module a reader holds in mind, a function read at a glance


def test_no_module_or_function_of_the_product_outgrows_a_reading():
    modules = sorted((ROOT / "plugins" / "billing_readiness").rglob("*.py"))
    assert len(modules) >= 50
    too_long = []
    for path in modules:
        text = path.read_text()
        where = path.relative_to(ROOT)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{where}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{where}: {node.name}() {length} lines")
    assert too_long == []
