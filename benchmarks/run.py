"""Run the sigmax benchmark: ``python benchmarks/run.py [--scale 0.05] [problem ...]``.

The same as ``sigmax bench``; see ``benchmarks/README.md``.
"""

import sys

from sigmax.bench import main

if __name__ == "__main__":
    sys.exit(main())
