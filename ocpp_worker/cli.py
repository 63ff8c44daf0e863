"""``ocpp-csms``: the one command an operator needs (click, which Celery brings).

    ocpp-csms run gateway|bridge          run one process in the foreground
    ocpp-csms idtag add|list|remove|show  the idTag registry
    ocpp-csms chargers                    every charger: connected, last seen, stale
    ocpp-csms messages CP001 [--follow]   a charger's OCPP message log
    ocpp-csms simulate [--id CP001 ...]   a simulated charger
    ocpp-csms db upgrade|current          the session archive's schema (Alembic)

Each command reads the same state functions as the REST API, on the Redis the
environment names (README's table). The heavy modules (the gateway's event loop,
Celery, the simulator) are imported by the command that runs them, so ``--help`` is
quick and starts nothing.
"""

from __future__ import annotations

import json
import sys

import click

from ocpp_worker.idtag_cli import idtag
from ocpp_worker.state import chargepoints, message_log
from ocpp_worker.state.store import Store

PROCESSES = ("gateway", "bridge")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Operate the OCPP 1.6J central system."""


main.add_command(idtag)


@main.command()
@click.argument("process", type=click.Choice(PROCESSES))
def run(process: str) -> None:
    """Run a gateway or a bridge until SIGTERM or Ctrl-C.

    Workers, the API and Flower have their own commands (Procfile); `make run` starts
    them all.
    """
    if process == "gateway":
        from ocpp_worker.gateway.__main__ import main as serve
    else:
        from ocpp_worker.bridge.__main__ import main as serve
    serve()


def _flag(value: object) -> str:
    return "-" if value is None else ("yes" if value else "no")


@main.command()
@click.option("--connected/--disconnected", default=None, help="only the connected (or disconnected) ones")
@click.option("--limit", type=click.IntRange(1, 10_000), default=500, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--json", "as_json", is_flag=True, help="one JSON object a line, as GET /api/v1/chargepoints")
def chargers(connected: bool | None, limit: int, offset: int, as_json: bool) -> None:
    """List chargers (first seen first) with their connection state."""
    store = Store.connect()
    ids, total = chargepoints.list_ids(store, offset, limit, connected)
    rows = chargepoints.summaries(store, ids)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    table = [("ID", "CONNECTED", "STALE", "LAST SEEN", "STATUS", "VENDOR / MODEL")]
    for row in rows:
        vendor = f"{row['vendor'] or ''} {row['model'] or ''}".strip()
        flags = (_flag(row["connected"]), _flag(row.get("stale")))
        table.append((row["id"], *flags, row["lastSeen"] or "-", row["status"] or "-", vendor))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        click.echo("  ".join([*cells, line[-1]]))
    click.echo(f"{len(rows)} of {total} chargers", err=True)


def _line(message: message_log.Message) -> str:
    cut = f" (first {len(message.frame)} of {message.size} characters)" if message.truncated else ""
    return (
        f"{message.at}  {message.direction:<3}  {message.message_type or '?':<10}  "
        f"{message.action or '-':<29}  {message.frame}{cut}"
    )


@main.command()
@click.argument("cp_id")
@click.option("--limit", type=click.IntRange(1, message_log.PAGE_MAX), default=20, show_default=True)
@click.option("--action", help="only the CALLs of this action and the answers to them")
@click.option("-f", "--follow", is_flag=True, help="then print new messages as they come (Ctrl-C stops)")
def messages(cp_id: str, limit: int, action: str | None, follow: bool) -> None:
    """Print a charger's last OCPP messages, newest last.

    Every frame the charger sent and was sent, with the time the gateway handled it,
    its direction (in: from the charger), type and action.
    """
    store = Store.connect()
    keys = store.keys
    last = message_log.page(store, keys, cp_id, limit, action=action)
    for message in reversed(last):
        click.echo(_line(message))
    if not follow:
        return
    # From the newest message printed: nothing written since is missed, nothing printed
    # twice (the ones in between that do not match are read and left out).
    after = last[0].id if last else "0-0"
    try:
        while True:
            for message in message_log.follow(store, keys, cp_id, after):
                after = message.id
                if action is None or message.action == action:
                    click.echo(_line(message))
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a tail ends: no traceback, exit 0


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def simulate(args: tuple[str, ...]) -> None:
    """Run a simulated charger (ocpp-csms simulate --help lists its options)."""
    from ocpp_worker.simulate import main as simulate_main

    sys.exit(simulate_main(list(args), prog="ocpp-csms simulate"))


@main.group()
def db() -> None:
    """The session archive's database (DATABASE_URL; unset: SQLite in OCPP_DATA_DIR)."""


@db.command()
def upgrade() -> None:
    """Create or migrate the archive's tables to the newest schema (`make run` does)."""
    from ocpp_worker.archive import migrate
    from ocpp_worker.archive.db import database_url
    from ocpp_worker.config import get_settings

    settings = get_settings()
    migrate.upgrade(settings)
    click.echo(f"archive schema up to date ({_without_password(database_url(settings))})")


@db.command()
def current() -> None:
    """Show the schema revision the archive is at."""
    from ocpp_worker.archive import migrate
    from ocpp_worker.config import get_settings

    migrate.current(get_settings())


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    main()
