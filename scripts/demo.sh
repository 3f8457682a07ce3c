#!/usr/bin/env bash
# The demo, a short version of the reference workflow: scaffold a project, build its image, run its
# example task (a parent and parallel subtasks, each in its own container), run its notebook
# headless with an input, and run its tests inside the image, all on the local Docker engine.
# Provisions what it needs first (Docker engine, base image, a virtualenv with cowait).
set -euo pipefail
cd "$(dirname "$0")/.."
checkout="$(pwd)"

bash scripts/provision/docker-engine.sh
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q -e . 2>&1 | { grep -v '^WARNING: Location' || true; }
bash scripts/provision/base-image.sh
export PATH="$checkout/.venv/bin:$PATH"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "+ cowait new demo --image cowait-demo"
cowait new demo --image cowait-demo
cd demo
echo "+ cowait build"
cowait build
echo "+ cowait run hello -i name=demo -i times=4   (a parent fanning out to 4 subtasks)"
cowait run hello -i name=demo -i times=4
echo "+ cowait notebook run hello.ipynb -i name=notebook   (the notebook as a batch task)"
cowait notebook run hello.ipynb -i name=notebook
echo "+ cowait test   (the project's pytest suite, inside its image; the test starts real subtasks)"
cowait test
echo "+ cowait ps --all"
cowait ps --all
