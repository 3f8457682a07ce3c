"""Cowait notebooks: the Cowait kernel, notebook execution, and the Jupyter server task."""

EXIT_MIME = "application/vnd.cowait.exit+json"
