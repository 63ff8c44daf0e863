"""From records (JSON lines) to the table at the end of a run, the Markdown of
docs/BENCHMARKS.md's generated section, and the latency-versus-offered-load plot.

Every figure is a median over runs with its spread [min-max]. Project/baseline
ratios are taken run by run (run i of the project against run i of the baseline,
which ran next to it) and then their median, so drift between runs cancels.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.scenarios import AVERAGE_RATE, PEAK_RATE

SIZING_FLEETS = (10_000, 100_000, 1_000_000)
SIZED = ("gateway", "bridge", "worker-main", "worker-pool", "archiver", "redis", "flower", "api")
Record = dict[str, Any]


def load(path: Path) -> list[Record]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def groups(records: Iterable[Record]) -> dict[tuple[str, str, str], list[Record]]:
    out: dict[tuple[str, str, str], list[Record]] = defaultdict(list)
    for r in records:
        if "failed" in r or r.get("kind") == "meta":
            continue
        out[(r["scenario"], r["phase"], r["system"])].append(r)
    return out


def med(values: list[float]) -> tuple[float, float, float] | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def fmt(stat: tuple[float, float, float] | None, digits: int = 1, unit: str = "") -> str:
    if stat is None:
        return "-"
    m, lo, hi = stat
    if lo == hi:
        return f"{m:,.{digits}f}{unit}"
    return f"{m:,.{digits}f}{unit} [{lo:,.{digits}f}-{hi:,.{digits}f}]"


def get(r: Record, path: str) -> Any:
    value: Any = r
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def stat(rs: list[Record], path: str) -> tuple[float, float, float] | None:
    return med([get(r, path) for r in rs])


def worker(r: Record, key: str = "cpu_us_per_msg") -> float | None:
    d = r.get(key) or {}
    if "worker-main" not in d:
        return None
    return float(d.get("worker-main", 0.0) + d.get("worker-pool", 0.0))


# -- tables ---------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def load_table(g: dict[tuple[str, str, str], list[Record]]) -> str:
    rows = []
    for (sc, phase, system), rs in sorted(g.items(), key=_order):
        if rs[0].get("mode") not in ("closed", "open"):
            continue
        offered = rs[0].get("offered_per_s")
        rows.append(
            [
                sc,
                phase,
                system,
                str(len(rs)),
                "closed" if offered is None else f"{offered:,.0f}",
                fmt(stat(rs, "throughput_per_s"), 0),
                fmt(stat(rs, "carried_ratio"), 3) if offered else "-",
                fmt(stat(rs, "latency_ms.p50"), 1),
                fmt(stat(rs, "latency_ms.p90"), 1),
                fmt(stat(rs, "latency_ms.p99"), 1),
                fmt(stat(rs, "latency_ms.max"), 0),
                fmt(stat(rs, "cpu_total_us_per_msg"), 0),
                fmt(stat(rs, "loadgen.us_per_msg"), 0),
                fmt(stat(rs, "loadgen.max_process_util"), 2),
                fmt(stat(rs, "other_cores"), 2),
                fmt(stat(rs, "steal_cores"), 2),
                str(sum(r.get("errors", 0) + r.get("setup_errors", 0) for r in rs)),
            ]
        )
    headers = [
        "scenario",
        "phase",
        "system",
        "runs",
        "offered/s",
        "answered/s",
        "carried",
        "p50 ms",
        "p90 ms",
    ]
    headers += ["p99 ms", "max ms", "server µs/msg", "loadgen µs/msg", "loadgen max core", "others' cores"]
    headers += ["steal cores"]
    headers += ["errors"]
    return table(headers, rows)


def _order(item: tuple[tuple[str, str, str], list[Record]]) -> tuple[Any, ...]:
    (sc, phase, system), rs = item
    offered = rs[0].get("offered_per_s") or 0
    return (sc, rs[0].get("mode") != "closed", offered, phase, system != "project", system)


def paired_ratios(
    g: dict[tuple[str, str, str], list[Record]],
    sc: str,
    phase: str,
    a: str,
    b: str,
    metric: Callable[[Record], Any],
) -> tuple[float, float, float] | None:
    """Median [min-max] over runs of metric(run i of a) / metric(run i of b)."""
    by_run_b = {r["run"]: r for r in g.get((sc, phase, b), [])}
    ratios = []
    for r in g.get((sc, phase, a), []):
        other = by_run_b.get(r["run"])
        if other is None:
            continue
        x, y = metric(r), metric(other)
        if x is not None and y:
            ratios.append(x / y)
    return med(ratios)


def ratio_table(g: dict[tuple[str, str, str], list[Record]]) -> str:
    rows = []
    keys = sorted({(sc, phase) for sc, phase, _ in g})
    for sc, phase in keys:
        if (sc, phase, "baseline") not in g:
            continue
        for system in sorted({s for s2, p2, s in g if (s2, p2) == (sc, phase) and s != "baseline"}):
            rs = g[(sc, phase, system)]
            if rs[0].get("mode") not in ("closed", "open", "storm"):
                continue

            def ratio(metric: Callable[[Record], Any], s: str = system, p: str = phase, c: str = sc) -> str:
                return fmt(paired_ratios(g, c, p, s, "baseline", metric), 2, "x")

            if rs[0].get("mode") == "storm":
                rows.append(
                    [sc, phase, system, "-", "-", "-", ratio(lambda r: r.get("time_to_all_accepted_s")), "-"]
                )
                continue
            rows.append(
                [
                    sc,
                    phase,
                    system,
                    ratio(lambda r: r.get("throughput_per_s")),
                    ratio(lambda r: get(r, "latency_ms.p50")),
                    ratio(lambda r: get(r, "latency_ms.p99")),
                    "-",
                    ratio(lambda r: r.get("cpu_total_us_per_msg")),
                ]
            )
    headers = ["scenario", "phase", "system", "throughput ÷ baseline", "p50 ÷ baseline", "p99 ÷ baseline"]
    headers += ["boot-storm time ÷ baseline", "server CPU/msg ÷ baseline"]
    return table(headers, rows)


def variant_table(g: dict[tuple[str, str, str], list[Record]]) -> str:
    """Other configurations of the project against the project as shipped, run by run."""
    rows = []
    for sc, phase, system in sorted(g):
        if system in ("project", "baseline") or (sc, phase, "project") not in g:
            continue
        if g[(sc, phase, system)][0].get("mode") not in ("closed", "open"):
            continue

        def ratio(metric: Callable[[Record], Any], s: str = system, p: str = phase, c: str = sc) -> str:
            return fmt(paired_ratios(g, c, p, s, "project", metric), 2, "x")

        rows.append(
            [
                sc,
                phase,
                system,
                ratio(lambda r: r.get("throughput_per_s")),
                ratio(lambda r: get(r, "latency_ms.p50")),
                ratio(lambda r: get(r, "latency_ms.p99")),
                ratio(lambda r: r.get("cpu_total_us_per_msg")),
            ]
        )
    headers = ["scenario", "phase", "configuration", "throughput ÷ project", "p50 ÷ project", "p99 ÷ project"]
    return table([*headers, "server CPU/msg ÷ project"], rows)


def component_table(g: dict[tuple[str, str, str], list[Record]]) -> str:
    comps = [*SIZED, "baseline"]
    rows = []
    for (sc, phase, system), rs in sorted(g.items(), key=_order):
        if rs[0].get("mode") not in ("closed", "open"):
            continue
        present = [c for c in comps if any(c in (r.get("cpu_us_per_msg") or {}) for r in rs)]
        cells = []
        for c in comps:
            cells.append(fmt(stat(rs, f"cpu_us_per_msg.{c}"), 0) if c in present else "-")
        worker_stat = med([worker(r) for r in rs])
        rows.append(
            [
                sc,
                phase,
                system,
                fmt(stat(rs, "throughput_per_s"), 0),
                *cells,
                fmt(worker_stat, 0),
                fmt(stat(rs, "cpu_total_us_per_msg"), 0),
            ]
        )
    headers = ["scenario", "phase", "system", "answered/s", *comps, "worker (main+pool)", "total"]
    return table(headers, rows)


def commands_table(g: dict[tuple[str, str, str], list[Record]], top: int = 16) -> str:
    """Redis commands per answered CALL in the closed loops, by command (medians)."""
    cols = [k for k in sorted(g) if k[1] == "closed" and g[k][0].get("redis_commands_per_msg")]
    if not cols:
        return ""
    totals: dict[str, float] = defaultdict(float)
    for k in cols:
        for r in g[k]:
            for cmd, n in (r.get("redis_commands_per_msg") or {}).items():
                totals[cmd] += n
    commands = sorted(totals, key=lambda c: -totals[c])[:top]
    rows = []
    for cmd in [*commands, "(all)"]:
        cells = []
        for k in cols:
            if cmd == "(all)":
                values = [sum((r.get("redis_commands_per_msg") or {}).values()) for r in g[k]]
            else:
                values = [(r.get("redis_commands_per_msg") or {}).get(cmd, 0.0) for r in g[k]]
            m = med(values)
            cells.append(f"{m[0]:.2f}" if m else "-")
        rows.append([cmd, *cells])
    return table(["command", *(f"{sc} {system}" for sc, _phase, system in cols)], rows)


def rss_table(g: dict[tuple[str, str, str], list[Record]]) -> str:
    rows = []
    for (sc, phase, system), rs in sorted(g.items(), key=_order):
        if rs[0].get("mode") not in ("closed", "open"):
            continue
        cells = [fmt(stat(rs, f"peak_rss_mb.{c}"), 0) for c in (*SIZED, "baseline")]
        rows.append([sc, phase, system, *cells])
    return table(["scenario", "phase", "system", *(f"{c} MB" for c in (*SIZED, "baseline"))], rows)


def boot_table(g: dict[tuple[str, str, str], list[Record]]) -> str:
    rows = []
    for (sc, _phase, system), rs in sorted(g.items(), key=_order):
        if rs[0].get("mode") == "storm":
            rows.append(
                [
                    sc,
                    system,
                    str(len(rs)),
                    str(rs[0]["chargers"]),
                    fmt(stat(rs, "accepted"), 0),
                    fmt(stat(rs, "time_to_all_accepted_s"), 2, " s"),
                    fmt(stat(rs, "accept_time_ms.p50"), 0, " ms"),
                    fmt(stat(rs, "accept_time_ms.p99"), 0, " ms"),
                    fmt(stat(rs, "cpu_total_us_per_msg"), 0),
                    str(sum(r.get("errors", 0) for r in rs)),
                ]
            )
    headers = ["scenario", "system", "runs", "chargers", "accepted", "all Accepted after", "p50 accept"]
    headers += ["p99 accept", "server µs/boot", "errors"]
    return table(headers, rows)


def connections_table(g: dict[tuple[str, str, str], list[Record]]) -> str:
    rows = []
    for (sc, _phase, system), rs in sorted(g.items(), key=_order):
        if rs[0].get("mode") == "connect-only":
            hb = g.get((sc, "heartbeats", system), [])
            front = "baseline" if system == "baseline" else "gateway"
            rows.append(
                [
                    sc,
                    "yes" if rs[0].get("deflate") else "no",
                    system,
                    str(len(rs)),
                    fmt(stat(rs, "connections"), 0),
                    fmt(stat(rs, "boot_s"), 1, " s"),
                    fmt(stat(rs, "rss_before_mb"), 0, " MB"),
                    fmt(stat(rs, "rss_after_mb"), 0, " MB"),
                    fmt(stat(rs, "rss_per_connection_kb"), 1, " KB"),
                    fmt(stat(rs, "rss_total_per_connection_kb"), 1, " KB"),
                    fmt(stat(hb, "offered_per_s"), 0),
                    fmt(stat(hb, "carried_ratio"), 3),
                    fmt(stat(hb, "latency_ms.p50"), 1),
                    fmt(stat(hb, "latency_ms.p99"), 1),
                    fmt(stat(g.get((sc, "idle", system), []), f"cpu_cores.{front}"), 3),
                    fmt(stat(hb, f"cpu_cores.{front}"), 3),
                    str(sum(r.get("errors", 0) for r in rs + hb)),
                ]
            )
    headers = [
        "scenario",
        "deflate",
        "system",
        "runs",
        "connections",
        "all connected after",
        "RSS before",
        "RSS after",
        "RSS/connection (added)",
    ]
    headers += [
        "RSS/connection (total)",
        "heartbeats/s",
        "answered",
        "p50 ms",
        "p99 ms",
        "gateway cores idle",
        "gateway cores with heartbeats",
        "errors",
    ]
    return table(headers, rows)


def per_call(rs: list[Record]) -> dict[str, float]:
    """Median µs per answered CALL by component (the worker's main process and pool together)."""
    out = {}
    for c in ("gateway", "bridge", "archiver", "redis", "flower", "api"):
        s = stat(rs, f"cpu_us_per_msg.{c}")
        if s is not None:
            out[c] = s[0]
    w = med([worker(r) for r in rs])
    if w is not None:
        out["worker"] = w[0]
    return out


SIZING_BASES = (
    ("busy", ("load1000", "closed", "project"), "closed loop, 1,000 chargers: every process saturated"),
    ("light", ("load1000", "open100", "project"), "100 CALLs/s offered: most batches of one"),
)


def sizing(g: dict[tuple[str, str, str], list[Record]]) -> tuple[str, str] | None:
    """Cores per component for fleets of chargers: CALLs/s x the project's CPU per CALL,
    once at the cost per CALL of busy processes (saturation, large batches) and once at
    that of lightly loaded ones (100/s: batches of one), plus the cost of holding the
    connections (the connections scenario)."""
    bases = [(name, key, what, per_call(g[key])) for name, key, what in SIZING_BASES if key in g]
    if not bases:
        fallback = ("closed100", "closed", "project")
        if fallback not in g:
            return None
        bases = [("busy", fallback, "closed loop, 100 chargers", per_call(g[fallback]))]
    order = [
        c for c in ("gateway", "bridge", "worker", "archiver", "redis", "flower", "api") if c in bases[0][3]
    ]
    held = upkeep(g, bases[-1][3])
    rows = []
    for name, _key, _what, per_msg in bases:
        for fleet in SIZING_FLEETS:
            for label, rate in (("average", AVERAGE_RATE), ("peak", PEAK_RATE)):
                msgs = fleet * rate
                cores = [msgs * per_msg.get(c, 0.0) / 1e6 for c in order]
                cores += [fleet * held[c] for c in held]
                total = f"{sum(cores):,.2f}"
                rows.append([name, f"{fleet:,}", label, f"{msgs:,.0f}", *(f"{x:,.2f}" for x in cores), total])
    headers = ["CPU per CALL", "chargers", "load", "CALLs/s", *(f"{c} cores" for c in order)]
    headers += [f"{c} cores holding connections" for c in held]
    notes = []
    for name, key, what, per_msg in bases:
        costs = ", ".join(f"{c} {per_msg[c]:,.0f} µs" for c in order if c in per_msg)
        notes.append(f"{name}: {'/'.join(key)} ({what}): {costs}")
    note = "Per CALL (medians) - " + "; ".join(notes) + "."
    if held:
        note += (
            " Per connected charger, whatever it sends (connections/idle: 20 s without a CALL,"
            " cores / connections; without that phase: connections/heartbeats less its CALLs): "
            + ", ".join(f"{c} {held[c] * 1e6:,.1f} µs/s" for c in held)
            + "."
        )
    return table([*headers, "total cores"], rows), note


def upkeep(g: dict[tuple[str, str, str], list[Record]], per_msg: dict[str, float]) -> dict[str, float]:
    """Cores per connected charger spent on the connection itself (keepalive pings, the
    registry refresh, the boot-deadline check), by component: from the connections
    scenario, what the gateway and Redis used beyond their per-CALL cost."""
    held = g.get(("connections", "connections", "project"), [])
    n = med([r.get("connections") for r in held])
    idle = g.get(("connections", "idle", "project"), [])
    if idle and n is not None:
        # measured directly: 20 s without a CALL while the connections are held
        # (the other processes hold no connection: their idle cost is not per charger)
        out = {}
        for c in ("gateway", "redis"):
            cores = stat(idle, f"cpu_cores.{c}")
            if cores is not None:
                out[c] = cores[0] / n[0]
        return out
    phase = g.get(("connections", "heartbeats", "project"), [])
    thr = stat(phase, "throughput_per_s")
    if not phase or n is None or thr is None:
        return {}
    out = {}
    for c in ("gateway", "redis"):
        cores = stat(phase, f"cpu_cores.{c}")
        if cores is not None and c in per_msg:
            out[c] = max(0.0, cores[0] - thr[0] * per_msg[c] / 1e6) / n[0]
    return out


def targets(g: dict[tuple[str, str, str], list[Record]]) -> str:
    rows = []

    def add(target: str, measured: str, ok: bool | None) -> None:
        rows.append([target, measured, "-" if ok is None else ("met" if ok else "**not met**")])

    r = paired_ratios(g, "load1000", "closed", "project", "baseline", lambda x: x.get("throughput_per_s"))
    add("closed loop 1,000 chargers ≥ 1.0x baseline", fmt(r, 2, "x"), None if r is None else r[0] >= 1.0)
    rs = g.get(("load1000", "open300", "project"), [])
    p50, p99 = stat(rs, "latency_ms.p50"), stat(rs, "latency_ms.p99")
    add("300/s offered, 1,000 chargers: p50 ≤ 5 ms", fmt(p50, 1, " ms"), None if p50 is None else p50[0] <= 5)
    add(
        "300/s offered, 1,000 chargers: p99 ≤ 20 ms",
        fmt(p99, 1, " ms"),
        None if p99 is None else p99[0] <= 20,
    )
    rs = g.get(("load1000", "open1000", "project"), [])
    carried, p99 = stat(rs, "carried_ratio"), stat(rs, "latency_ms.p99")
    add(
        "1,000/s offered carried within 2 %", fmt(carried, 3), None if carried is None else carried[0] >= 0.98
    )
    add("1,000/s offered: p99 ≤ 100 ms", fmt(p99, 1, " ms"), None if p99 is None else p99[0] <= 100)
    rs = g.get(("load1000", "closed", "project"), [])
    total = stat(rs, "cpu_total_us_per_msg")
    add(
        "all project processes ≤ 0.6 ms CPU per message at saturation (incl. Redis)",
        fmt(total, 0, " µs"),
        None if total is None else total[0] <= 600,
    )
    rs = g.get(("storm", "boot", "project"), [])
    t = stat(rs, "time_to_all_accepted_s")
    all_ok = all(r.get("all_accepted") for r in rs) if rs else None
    add(
        "boot storm 5,000: all Accepted within 15 s",
        fmt(t, 1, " s"),
        None if t is None else bool(all_ok and t[0] <= 15),
    )
    for sc, how in (("connections", "permessage-deflate"), ("connections-plain", "no compression")):
        rs = g.get((sc, "connections", "project"), [])
        if not rs:
            continue
        kb, n = stat(rs, "rss_per_connection_kb"), stat(rs, "connections")
        measured = f"{fmt(kb, 1, ' KB')} at {fmt(n, 0)} connections ({how})"
        add(
            "20,000 connections on one gateway ≤ 25 KB RSS each",
            measured,
            None if kb is None else kb[0] <= 25,
        )
    return table(["target", "measured (median [min-max])", ""], rows)


def markdown(records: list[Record], plot_path: str | None = None) -> str:
    g = groups(records)
    parts = ["#### Targets", targets(g)]
    if any(k[2] == "baseline" for k in g):
        parts += ["#### Project ÷ baseline (per-run ratios: median [min-max])", ratio_table(g)]
    vt = variant_table(g)
    if vt.count("\n") > 1:
        parts += ["#### Other configurations ÷ the project as shipped (per-run ratios)", vt]
    parts += ["#### Load", load_table(g), "#### CPU per answered CALL, µs, by component", component_table(g)]
    sized = sizing(g)
    if sized:
        parts += ["#### Sizing (cores = CALLs/s x CPU per CALL, + the connections held)", sized[1], sized[0]]
    ct = commands_table(g)
    if ct:
        parts += ["#### Redis commands per answered CALL, closed loop (medians)", ct]
    bt = boot_table(g)
    if bt.count("\n") > 1:
        parts += ["#### Boot storm", bt]
    ct = connections_table(g)
    if ct.count("\n") > 1:
        parts += ["#### Connections on one gateway", ct]
    parts += ["#### Peak RSS during each phase, MB", rss_table(g)]
    if plot_path:
        parts += [f"![latency versus offered load]({plot_path})"]
    return "\n\n".join(parts) + "\n"


def plot(records: list[Record], path: Path) -> bool:
    """p50 and p99 against offered load, one line per system (medians over runs)."""
    g = groups(records)
    series: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for (sc, _phase, system), rs in g.items():
        if rs[0].get("mode") != "open" or rs[0].get("mix") != "full" or sc != "load1000":
            continue
        p50, p99 = stat(rs, "latency_ms.p50"), stat(rs, "latency_ms.p99")
        if p50 and p99:
            series[system].append((rs[0]["offered_per_s"], p50[0], p99[0]))
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    colors = {"project": "tab:blue", "baseline": "tab:orange", "project-noflower": "tab:green"}
    for system, points in sorted(series.items()):
        points.sort()
        xs = [p[0] for p in points]
        color = colors.get(system)
        ax.plot(xs, [p[1] for p in points], "o--", color=color, label=f"{system} p50")
        ax.plot(xs, [p[2] for p in points], "s-", color=color, label=f"{system} p99")
    for (sc, phase, system), rs in g.items():
        if sc == "load1000" and phase == "closed" and system in ("project", "baseline"):
            cap = stat(rs, "throughput_per_s")
            if cap:
                ax.axvline(
                    cap[0], color=colors[system], alpha=0.3, lw=6, label=f"{system} closed-loop capacity"
                )
    ax.set_yscale("log")
    chargers = next(rs[0]["chargers"] for (sc, _p, _s), rs in g.items() if sc == "load1000")
    ax.set_xlabel(f"offered load, CALLs/s ({chargers:,} chargers, open loop)")
    ax.set_ylabel("latency from intended send, ms (log)")
    ax.set_title("Latency versus offered load (medians over runs)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True


def print_table(records: list[Record]) -> None:
    g = groups(records)
    print("\n" + "=" * 100)
    print("median [min-max] over runs")
    print(load_table(g))
    if any(k[2] == "baseline" for k in g):
        print("\nproject ÷ baseline, run by run")
        print(ratio_table(g))
    vt = variant_table(g)
    if vt.count("\n") > 1:
        print("\nother configurations ÷ project, run by run")
        print(vt)
    print("\nCPU µs per answered CALL")
    print(component_table(g))
    bt, ct = boot_table(g), connections_table(g)
    if bt.count("\n") > 1:
        print("\n" + bt)
    if ct.count("\n") > 1:
        print("\n" + ct)
    print("\n" + targets(g))


BEGIN, END = "<!-- bench:begin (generated by `python -m bench report`) -->", "<!-- bench:end -->"


def update_docs(doc: Path, generated: str) -> None:
    """Replace the generated section of docs/BENCHMARKS.md (between the markers)."""
    text = doc.read_text() if doc.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n\n{generated}\n{END}{tail}")
