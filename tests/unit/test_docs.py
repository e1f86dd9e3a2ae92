"""The README is the front door: every command it shows exists (scripts, Python files, --fault names), and
every file that it or a docs page links to is there."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]


def shell_lines(text: str) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_every_command_the_readme_shows_exists():
    import ast

    demo = ast.parse((ROOT / "m12_1_sandbox" / "demo.py").read_text())
    faults = next(
        node.value
        for node in demo.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "FAULTS"
    )
    names = {k.value for k in faults.keys} | {"none"}
    commands = [
        c for c in shell_lines((ROOT / "README.md").read_text()) if c.startswith(("bash ", ".venv/bin/python "))
    ]
    assert len(commands) >= 10
    for command in commands:
        words = command.split()
        target = words[2] if words[1] == "-m" else words[1]
        if words[1] == "-m":
            assert target == "pytest" or (ROOT / target.replace(".", "/")).with_suffix(".py").exists(), command
        else:
            assert (ROOT / target).is_file(), command
        if "--fault" in words:
            assert words[words.index("--fault") + 1] in names, command


def test_every_linked_file_is_present():
    for page in PAGES:
        for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if link.startswith(("http://", "https://", "mailto:")):
                continue
            assert (page.parent / link).exists(), f"{page.relative_to(ROOT)} links to a missing {link}"


def test_the_readme_stays_a_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    for page in ("docs/checks.md", "docs/operations.md", "docs/reliability.md", "bench/README.md"):
        assert f"]({page})" in text, page


def test_the_package_version_is_the_newest_released_changelog_entry():
    import re

    import billing_readiness

    text = (ROOT / "CHANGELOG.md").read_text()
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", text, flags=re.MULTILINE)
    assert released and billing_readiness.__version__ == released[0], (billing_readiness.__version__, released[:2])
    assert "## [Unreleased]" in text.split(f"## [{released[0]}]")[0]  # what is not released yet goes on top


def test_the_repositorys_dag_file_is_the_example_the_wheel_ships():
    shipped = ROOT / "plugins" / "billing_readiness" / "example_dags" / "billing_readiness_dag.py"
    assert (ROOT / "dags" / "billing_readiness_dag.py").read_text() == shipped.read_text()


def test_the_check_tables_in_the_docs_are_generated_from_the_checks():
    """README.md and docs/checks.md carry the table billing_readiness.reporting.check_table makes from CHECKS; the DAG's own
    documentation is made from the checks it runs (a fifth check is described with no doc edited by hand)."""
    import sys

    from billing_readiness.dag import CHECKS, doc_md
    from billing_readiness.reporting.check_table import markdown, replaced

    for page in ("README.md", "docs/checks.md"):
        text = (ROOT / page).read_text()
        assert replaced(text, CHECKS) == text, (
            f"{page}: run python -m billing_readiness.reporting.check_table --write {page}"
        )
    sys.path.insert(0, str(ROOT / "tests"))
    from fifth_check import CHECK as FIFTH

    assert "`check_plan_limits` (Check 5: Plan limits)" in doc_md([*CHECKS, FIFTH])
    assert markdown(CHECKS) in doc_md(CHECKS) and "check_plan_limits" not in doc_md(CHECKS)


def test_the_published_config_schema_is_generated_from_the_models():
    """docs/config.schema.json is the JSON Schema of billing_readiness.config's models, as they are now."""
    import json

    from billing_readiness.config.model import json_schema

    committed = json.loads((ROOT / "docs" / "config.schema.json").read_text())
    assert committed == json_schema(), "run python -m billing_readiness.config.model --write docs/config.schema.json"
    assert committed["properties"]["invoice"]["$ref"].endswith("/Invoice") and "additionalProperties" in json.dumps(
        committed["$defs"]["Invoice"]
    )
