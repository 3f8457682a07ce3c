"""Executed notebooks as HTML pages: nbconvert's JupyterLab page, with each cell's status and duration
and nothing loaded from elsewhere (the dashboard serves it in a sandboxed frame, without script)."""

from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "nbtemplate"


def render_notebook(data: bytes) -> str:
    """The HTML page of a notebook file's content; images stay inside the page."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    exporter = HTMLExporter(template_name="cowait_notebook", extra_template_basedirs=[str(TEMPLATES)],
                            embed_images=True)
    body, _ = exporter.from_notebook_node(notebook)
    return body
