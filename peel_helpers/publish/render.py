"""Pages that are not notebooks (the index, the national pages) from the same template folder, with
Jinja's autoescaping on: every value placed in them is escaped unless it is markup the project built
itself and marked as such (:func:`markup`)."""

from __future__ import annotations

from functools import lru_cache

from .exporters import TEMPLATES, css


@lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES / "peel")), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals["css"] = css
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def markup(html: str):
    """Markup the project built itself (a value cell with its basis marker), placed unescaped."""
    from markupsafe import Markup

    return Markup(html)


def escape(text: str) -> str:
    """Text for a place that holds markup: escaped."""
    from markupsafe import escape as _escape

    return str(_escape(text))
