"""``python -m bench``: run scenarios, print the table, write JSON lines.

    python -m bench                      # --quick: closed loop, 100 chargers, project vs baseline, 3 runs
    python -m bench --full               # every scenario (about 30 minutes on 2 cores)
    python -m bench --scenario load1000 storm --runs 3
    python -m bench report /tmp/ocpp-bench/latest/results.jsonl --update-docs

Scenarios (--full runs all but `workers`, which load1000 includes):
  closed100          closed loop, 100 chargers: project, project without Flower, baseline
  load1000           1,000 chargers: closed loop for project, project without Flower,
                     project with 2 worker processes, baseline; then open loop at each
                     --rates (300 and 1,000/s: all but the 2-worker project; the other
                     rates: project and baseline)
  workers            closed loop, 1,000 chargers: 1 vs 2 worker processes
  storm              5,000 chargers connect and boot at once: time until all Accepted
  connections        20,000 known chargers reconnect to one gateway (permessage-deflate
                     offered, as websockets clients do): RSS per connection, then
                     heartbeats at 0.009/s per charger
  connections-plain  the same without compression
  events             closed loop, 100 chargers: the project against OCPP_EVENTS=0
  soak               100 chargers in sessions back to back for 4 windows (--soak-window,
                     60 s) with a 10 s Redis retention: Redis memory and archived sessions
                     at each window's end (with --compare-rev: a revision without the archive)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench import report
from bench.scenarios import Runner, build
from bench.systems import ROOT

FD_MARGIN = 100  # descriptors the gateway needs besides its chargers' sockets


def machine() -> dict[str, object]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in ("websockets", "celery", "kombu", "redis", "ocpp", "flower", "uvloop", "psutil"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    redis_server = shutil.which("redis-server")
    redis_version = (
        subprocess.run([redis_server, "--version"], capture_output=True, text=True).stdout.strip()
        if redis_server
        else None
    )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {
        "kind": "meta",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "redis_server": redis_version,
        "packages": versions,
        "commit": commit.stdout.strip(),
        "argv": sys.argv[1:],
        "fd_limit": resource.getrlimit(resource.RLIMIT_NOFILE),
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the default: a 1-2 minute smoke")
    mode.add_argument("--full", action="store_true", help="every scenario")
    mode.add_argument(
        "--scenario",
        nargs="+",
        choices=[
            "closed100",
            "load1000",
            "workers",
            "storm",
            "connections",
            "connections-plain",
            "soak",
            "events",
        ],
        help="run only these",
    )
    p.add_argument("--runs", type=int, default=3, help="runs per system, alternating (default 3)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each window")
    p.add_argument("--duration", type=float, default=8.0, help="seconds of each measured window")
    p.add_argument("--pause", type=float, default=1.0, help="seconds between phases")
    p.add_argument("--clients", type=int, default=2, help="load-generator processes")
    p.add_argument("--chargers", type=int, help="chargers of load1000/workers (default 1000)")
    p.add_argument(
        "--rates",
        type=float,
        nargs="+",
        default=[100, 200, 300, 1000],
        help="offered CALLs/s of load1000's open-loop phases",
    )
    p.add_argument("--storm-chargers", type=int, default=5000)
    p.add_argument("--soak-window", type=float, default=60.0, help="seconds of each soak window")
    p.add_argument("--connections", type=int, default=20_000, help="chargers of the connections scenario")
    p.add_argument("--connections-runs", type=int, default=1, help="runs of the connections scenario")
    p.add_argument("--connections-baseline", action="store_true", help="also hold them on the baseline")
    p.add_argument(
        "--rev",
        help="run this git revision of the project (exported with git archive) instead of the "
        "checkout, which others may be editing while the benchmark runs",
    )
    p.add_argument(
        "--compare-rev",
        metavar="REV",
        help="also run this revision, as project@REV, alternating with the project (e.g. HEAD~1)",
    )
    p.add_argument("--no-deflate", action="store_true", help="chargers without permessage-deflate")
    p.add_argument("--redis", help="HOST:PORT of an existing Redis (default: a private redis-server)")
    p.add_argument("--out", type=Path, help="results directory (default $TMPDIR/ocpp-bench/<time>)")
    p.add_argument(
        "--update-docs", action="store_true", help="rewrite docs/BENCHMARKS.md's generated section"
    )
    return p


def report_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench report", description="tables and plot from JSON lines")
    p.add_argument("results", type=Path, nargs="+")
    p.add_argument("--update-docs", action="store_true")
    args = p.parse_args(argv)
    records = [r for path in args.results for r in report.load(path)]
    finish(records, args.update_docs, args.results[0].parent)


def finish(records: list[dict[str, object]], update_docs: bool, out_dir: Path) -> None:
    report.print_table(records)  # type: ignore[arg-type]
    png = out_dir / "latency-vs-offered-load.png"
    drew = report.plot(records, png)  # type: ignore[arg-type]
    (out_dir / "summary.md").write_text(report.markdown(records, png.name if drew else None))  # type: ignore[arg-type]
    print(f"\nwrote {out_dir / 'summary.md'}" + (f" and {png}" if drew else ""))
    if update_docs:
        docs_png = ROOT / "docs" / "benchmarks" / "latency-vs-offered-load.png"
        if drew:
            docs_png.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(png, docs_png)
        generated = report.markdown(records, "benchmarks/latency-vs-offered-load.png" if drew else None)  # type: ignore[arg-type]
        report.update_docs(ROOT / "docs" / "BENCHMARKS.md", generated)
        print("updated docs/BENCHMARKS.md")


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return int(hard)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:
        report_main(argv[1:])
        return
    args = parser().parse_args(argv)
    if not (args.full or args.scenario):
        args.quick = True
    hard = raise_fd_limit()
    if args.connections > hard - FD_MARGIN:
        print(
            f"open-file hard limit is {hard}: the connections scenario holds {hard - FD_MARGIN} "
            f"chargers instead of {args.connections}",
            flush=True,
        )
        args.connections = hard - FD_MARGIN
    results_root = Path(tempfile.gettempdir()) / "ocpp-bench"
    out_dir = args.out or results_root / datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    latest = results_root / "latest"
    if out_dir.parent == latest.parent:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(out_dir.name)
    scenarios = build(args)
    meta = machine()
    (out_dir / "results.jsonl").write_text(json.dumps(meta) + "\n")
    print(
        f"{meta['cpu']}, {meta['cores']} cores, {meta['memory_gb']} GB; Python {meta['python']}; "
        f"{meta['redis_server']}\nscenarios: {', '.join(s.name for s in scenarios)}; {args.runs} runs; "
        f"{args.clients} client processes; results in {out_dir}",
        flush=True,
    )
    started = time.monotonic()

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # SIGTERM (and SIGINT, unless ignored as in a background job) unwind through every
    # `finally`: the stacks, the client processes and the private Redis are stopped
    signal.signal(signal.SIGTERM, interrupted)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, interrupted)
    runner = Runner(args, out_dir)
    try:
        records = runner.run(scenarios, args.runs)
    finally:
        runner.close()
    print(f"\n{len(records)} records in {time.monotonic() - started:.0f} s")
    finish(records, args.update_docs, out_dir)
