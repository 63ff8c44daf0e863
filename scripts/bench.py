"""Kept for old habits: the benchmark is the `bench` package now.

    .venv/bin/python -m bench --help      # or: make bench BENCH_ARGS="--full"

docs/BENCHMARKS.md describes the scenarios, the method and the results.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cli import main

if __name__ == "__main__":
    main()
