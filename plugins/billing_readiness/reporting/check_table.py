"""The table of the checks, generated from the checks themselves (each one's task id, title, `asks` and `impact`):
the DAG's documentation in the Airflow UI, the README and docs/checks.md all show this one table, so a check added
to CHECKS (or passed to build()) is described everywhere without a hand-kept copy.

    python -m billing_readiness.reporting.check_table --write README.md docs/checks.md   # rewrite the committed copies
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable

START = "<!-- check table: generated from CHECKS by `python -m billing_readiness.reporting.check_table --write` -->"
END = "<!-- end of the generated check table -->"


def markdown(checks: Iterable) -> str:
    rows = ["| task | asks | if it fails |", "|---|---|---|"]
    for check in checks:
        cell = lambda text: str(text).replace("|", "\\|").replace("\n", " ")  # noqa: E731
        rows.append(
            f"| `{check.task_id}` ({cell(check.title)}) | {cell(check.asks or check.title)} | {cell(check.impact)} |"
        )
    return "\n".join(rows)


def replaced(text: str, checks: Iterable) -> str:
    """`text` with the part between START and END replaced by the table; a text without them is refused."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError("no generated check table markers in the text")
    return pattern.sub(lambda _: f"{START}\n{markdown(checks)}\n{END}", text)


def main(argv: list[str]) -> int:
    from pathlib import Path

    from billing_readiness.checks import CHECKS

    if argv[:1] != ["--write"] or len(argv) < 2:
        print(markdown(CHECKS))
        return 0
    for name in argv[1:]:
        path = Path(name)
        path.write_text(replaced(path.read_text(), CHECKS))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
