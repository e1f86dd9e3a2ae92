"""HTML through Jinja2 (an Airflow dependency) with autoescape: every report and alert page renders its templates
here, so no text reaches a page unescaped. Templates are strings kept beside the code that fills them."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _environment():
    from jinja2 import Environment

    return Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


@functools.cache
def _template(source: str):
    return _environment().from_string(source)


def render(source: str, **context: Any) -> str:
    """`source` (a Jinja2 template) rendered with `context`, every value escaped unless marked safe."""
    return _template(source).render(**context)


def safe(markup: str) -> Any:
    """HTML built by another template: inserted as it is."""
    from markupsafe import Markup

    return Markup(markup)
