"""`make bench`: every benchmark, one after the other, on the local stack. Figures are printed, never asserted.

python -m benchmarks.run [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run of every benchmark)")
    quick = parser.parse_args().quick
    steps = [
        ["benchmarks.bench_parse"],
        ["benchmarks.bench_ingest", "--orders", "10000" if quick else "100000"],
        ["benchmarks.bench_consumer", "--orders", "5000" if quick else "100000"]
        + (["--history", "2000"] if quick else []),
        ["benchmarks.bench_relay", "2000" if quick else "20000"],
        ["benchmarks.bench_queries", "--orders", "20000" if quick else "1000000"],
        ["benchmarks.bench_console", "--orders", "20000" if quick else "1000000"],
    ]
    failed = 0
    for module, *args in steps:
        print(f"\n== {module} {' '.join(args)}", flush=True)
        failed += subprocess.run([sys.executable, "-m", module, *args], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
