"""First build of a scaffolded project against a rebuild after editing one .py file."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import report, run


def main() -> list[dict]:
    image = f"cowait-bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        run([sys.executable, "-m", "cowait", "new", "--image", image], cwd=root)
        (root / "requirements.txt").write_text("six==1.16.0\n")
        try:
            start = time.perf_counter()
            run([sys.executable, "-m", "cowait", "build", "-q", "--no-cache"], cwd=root)
            first = time.perf_counter() - start
            with (root / "hello.py").open("a") as handle:
                handle.write("\n# edited\n")
            start = time.perf_counter()
            run([sys.executable, "-m", "cowait", "build", "-q"], cwd=root)
            rebuild = time.perf_counter() - start
        finally:
            subprocess.run(f"docker images -q {image} | sort -u | xargs -r docker rmi -f",
                           shell=True, capture_output=True)
    return [report("cowait build after a .py edit", rebuild, "first build (--no-cache)", first, target=0.1)]


if __name__ == "__main__":
    main()
