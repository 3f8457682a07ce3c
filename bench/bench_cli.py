"""Start-up time of `cowait --help` against `python -c pass`."""

from __future__ import annotations

import sys

from bench.common import report, run, timed


def main() -> list[dict]:
    python = timed(lambda: run([sys.executable, "-c", "pass"]), repeat=10)
    cowait_help = timed(lambda: run([sys.executable, "-m", "cowait", "--help"]), repeat=10)
    return [report("cowait --help", cowait_help, "python -c pass", python)]


if __name__ == "__main__":
    main()
