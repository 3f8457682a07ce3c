"""The ``docker-cowait`` executable: the Docker CLI plugin that runs cowait as ``docker cowait``."""

from __future__ import annotations

import json
import sys

METADATA_COMMAND = "docker-cli-plugin-metadata"


def metadata() -> dict[str, str]:
    """What the Docker CLI asks a plugin for (the CLI plugin convention)."""
    from cowait.version import __version__

    return {
        "SchemaVersion": "0.1.0",
        "Vendor": "Cowait",
        "Version": __version__,
        "ShortDescription": "Run projects as parallel tasks and notebooks",
        "URL": "https://pypi.org/project/cowait/",
    }


def main(argv: list[str] | None = None) -> None:
    """Docker runs ``docker-cowait cowait ARGS...``; answer metadata or run the cowait CLI."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == METADATA_COMMAND:
        print(json.dumps(metadata()))
        return
    if args and args[0] == "cowait":
        args = args[1:]
    from cowait.cli.main import main as cowait_main

    cowait_main(args, prog_name="docker cowait")


if __name__ == "__main__":
    main()
