"""Run every benchmark: `python -m bench.run [NAME...]`. Each prints a ratio against a baseline measured in the same run."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

BENCHMARKS = ["bench_cli", "bench_build", "bench_tasks", "bench_scale", "bench_notebooks", "bench_fileshare"]


def main(names: list[str]) -> None:
    selected = names or BENCHMARKS
    print(f"{'benchmark':<44} {'value':>12}   {'baseline':<34} {'':>12}   ratio")
    results = []
    for name in selected:
        module = importlib.import_module(f"bench.{name}")
        results.extend(module.main())
    out = Path(".cowait") / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
