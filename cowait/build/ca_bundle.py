"""Find the CA bundle to trust inside image builds (for TLS-intercepting proxies)."""

from __future__ import annotations

import os
from pathlib import Path

from cowait.errors import ConfigError

# Checked in order; the first that names an existing file wins.
CA_ENV_VARS = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


def find_ca_bundle(configured: str | None, project_root: Path) -> Path | None:
    """The CA bundle from ``build.ca_bundle`` in cowait.yml, else from the host environment.

    A configured path that does not exist is an error; an environment variable that names a
    missing file is skipped (it may be meant for another tool).
    """
    if configured:
        path = (project_root / os.path.expanduser(configured)).resolve()
        if not path.is_file():
            raise ConfigError(f"cowait.yml: build.ca_bundle: file not found: {path}",
                              hint="point it at a PEM bundle, or remove the key")
        return path
    for var in CA_ENV_VARS:
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    return None
