"""The assumptions and caveats log as a page of the publication (``<out>/assumptions.html``).

Every report, section page and national page links its assumption items here, so a copied or
e-mailed ``outputs/`` folder never points outside itself. The page is ``data/ASSUMPTIONS.md``
rendered by the project's own section exporter (one markdown cell), with the items' anchors kept.
"""

from __future__ import annotations

from ..core.paths import ASSUMPTIONS_PATH

TITLE = "Assumptions and caveats log"


def page(index_href: str = "") -> str:
    """The log as one self-contained HTML page (``index_href``: the link back to the index, if any)."""
    import nbformat

    from .exporters import SectionExporter

    text = ASSUMPTIONS_PATH.read_text(encoding="utf-8")
    nb = nbformat.from_dict({"cells": [{"cell_type": "markdown", "metadata": {}, "source": text, "id": "log"}],
                             "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    links = [("All reports", index_href)] if index_href else []
    body, _ = SectionExporter().from_notebook_node(nb, {"metadata": {"name": TITLE},
                                                        "peel": {"title": f"PEEL police effectiveness: {TITLE}",
                                                                 "links": links}})
    return body
