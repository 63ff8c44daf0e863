"""``ocpp-csms idtag``: manage the idTag registry from a shell.

    ocpp-csms idtag add DEMO-TAG [--status Accepted] [--expiry 2027-01-01T00:00:00Z] [--parent P]
    ocpp-csms idtag remove DEMO-TAG
    ocpp-csms idtag show DEMO-TAG
    ocpp-csms idtag list

The same registry the API's /api/v1/idtags routes edit (`state.idtags`); `ocpp-idtag`
and ``python -m ocpp_worker.idtag_cli`` are older names of this group.
"""

from __future__ import annotations

import json

import click

from ocpp_worker import timeutil
from ocpp_worker.protocol import lengths
from ocpp_worker.state import idtags
from ocpp_worker.state.store import Store


def _id_tag(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if len(value) > lengths.ID_TOKEN:
        raise click.BadParameter(f"an idTag has at most {lengths.ID_TOKEN} characters (OCPP 1.6 IdToken)")
    return value


def _expiry(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    moment = timeutil.parse(value)
    if moment is None:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date-time")
    return timeutil.iso(moment)


ID_TAG = click.argument("id_tag", callback=_id_tag)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def idtag() -> None:
    """Manage the idTag registry (what Authorize and StartTransaction check)."""


@idtag.command()
@ID_TAG
@click.option("--status", default="Accepted", show_default=True, type=click.Choice(idtags.STATUSES))
@click.option("--expiry", callback=_expiry, help="expiryDate, ISO 8601")
@click.option("--parent", help="parentIdTag")
def add(id_tag: str, status: str, expiry: str | None, parent: str | None) -> None:
    """Create or replace a tag."""
    created = idtags.put(Store.connect(), id_tag, status, expiry, parent)
    click.echo(f"{'added' if created else 'updated'} {id_tag}: {status}")


@idtag.command()
@ID_TAG
def remove(id_tag: str) -> None:
    """Remove a tag (exit 1 if there is none)."""
    if not idtags.delete(Store.connect(), id_tag):
        raise click.ClickException(f"no such idTag: {id_tag}")
    click.echo(f"removed {id_tag}")


@idtag.command()
@ID_TAG
def show(id_tag: str) -> None:
    """Print a tag as JSON (exit 1 if there is none)."""
    tag = idtags.get(Store.connect(), id_tag)
    if tag is None:
        raise click.ClickException(f"no such idTag: {id_tag}")
    click.echo(json.dumps({"idTag": id_tag, **tag}))


@idtag.command(name="list")
def list_() -> None:
    """Print every tag's name, one a line."""
    for id_tag in idtags.names(Store.connect()):
        click.echo(id_tag)


if __name__ == "__main__":
    idtag()
