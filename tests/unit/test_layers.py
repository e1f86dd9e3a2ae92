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
