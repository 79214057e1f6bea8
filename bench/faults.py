"""The fault suite against one served platform, as one table: each fault injected for real, the
time until the platform served again, whether the user's files were where promised, and how
many containers had two owners.

    uv run python bench/faults.py [--only killed,db_busy] [--restart-engine] [--ports 19600]

The platform is `containerpoker portal` (gunicorn and its recovery monitor) in a subprocess,
with its own data folder (a 64 MB tmpfs when run as root: the disk-full fault fills it) and
instance name, an nginx pool of warm 2, at most 8. The faults are those of tests/faults/
(catalog.py), run one after another; each leaves the platform settled for the next.
`--restart-engine` adds the restart of the Docker daemon: it stops every container on the
engine, other people's too, so it is off unless asked for.

The baseline, measured in the same run on the healthy platform: a new user launching, uploading
a file and being served it (median of 3). "x base" is a fault's time over that.
Everything the bench creates is labelled ``containerpoker.bench`` and removed at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import traceback
from pathlib import Path

from _common import BENCH_TAG, cleanup  # bench/ is on sys.path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.faults.catalog import FAULTS, Outcome  # noqa: E402 - after the path
from tests.faults.served import ServedPlatform  # noqa: E402


def baseline(sp: ServedPlatform) -> float:
    times = []
    for _ in range(3):
        start = time.monotonic()
        assert sp.fresh_claim_serves(), "the healthy platform did not serve a new user"
        times.append(time.monotonic() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated fault names (default: all)")
    parser.add_argument(
        "--restart-engine",
        action="store_true",
        help="also restart the Docker daemon (stops every container on it, for everyone)",
    )
    parser.add_argument("--ports", type=int, default=19600, help="first host port of the pool")
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else None
    known = {f.name for f in FAULTS}
    if wanted and wanted - known:
        parser.error(f"unknown faults {sorted(wanted - known)}: pick from {sorted(known)}")
    faults = [
        f
        for f in FAULTS
        if (wanted is None or f.name in wanted) and (args.restart_engine or not f.disruptive)
    ]
    sp = ServedPlatform(labels=BENCH_TAG, ports=args.ports)
    rows: list[Outcome | tuple[str, str]] = []
    try:
        print("warming the pool and serving the portal ...", flush=True)
        sp.init()
        print(f"portal up in {sp.start():.1f} s at {sp.url} (data: {sp.data})", flush=True)
        base = baseline(sp)
        print(f"baseline: a new user launched, uploaded and was served in {base:.2f} s", flush=True)
        for fault in faults:
            print(f"fault: {fault.name} ...", flush=True)
            try:
                rows.append(fault.run(sp))
            except Exception as exc:  # noqa: BLE001 - the table says which fault broke
                traceback.print_exc()
                rows.append((fault.name, f"{type(exc).__name__}: {str(exc)[:160]}"))
                if sp.process is None or sp.process.poll() is not None:
                    sp.start()
    finally:
        sp.cleanup()
        cleanup()
    print()
    header = f"{'fault':40} {'serves again':>12} {'x base':>7}  {'files':22} {'2 owners':>8}  ok"
    print(header)
    print("-" * len(header))
    good = True
    for row in rows:
        if isinstance(row, tuple):
            print(f"{row[0]:40} {'-':>12} {'-':>7}  {'-':22} {'-':>8}  FAILED  {row[1]}")
            good = False
            continue
        ok = row.files_ok and row.double_owners == 0 and row.serving
        good &= ok
        print(
            f"{row.fault:40} {row.serve_again_s:10.2f} s {row.serve_again_s / base:7.1f}  "
            f"{row.files:22} {row.double_owners:8d}  {'yes' if ok else 'NO'}"
        )
    print()
    for row in rows:
        if not isinstance(row, tuple) and row.notes:
            print(f"{row.fault}: " + "; ".join(row.notes))
    print(f"\nbaseline (new user launched, uploaded, served): {base:.2f} s")
    print("invariants: " + ("all held" if good else "BROKEN (see above)"))
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
