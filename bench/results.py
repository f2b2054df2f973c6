"""What every benchmark shares: appending its row of figures to bench/RESULTS.md."""

import os
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def record(line: str) -> None:
    """Append one row to RESULTS.md, unless BENCH_RECORD=0 (a run not worth keeping)."""
    if os.environ.get("BENCH_RECORD", "1") == "0":
        return
    with RESULTS.open("a", encoding="utf-8") as results:
        results.write(line + "\n")
