"""Task container entrypoint (``python -m cowait.runtime``)."""

import sys

if __name__ == "__main__":
    print("cowait runtime: no task given", file=sys.stderr)
    sys.exit(2)
