"""Manage the idTag registry from a shell.

python -m ocpp_worker.idtag_cli add DEMO-TAG [--status Accepted] [--expiry 2027-01-01T00:00:00Z] [--parent P]
python -m ocpp_worker.idtag_cli remove DEMO-TAG
python -m ocpp_worker.idtag_cli show DEMO-TAG
python -m ocpp_worker.idtag_cli list
"""

from __future__ import annotations

import argparse
import json
import sys

from ocpp_worker import timeutil
from ocpp_worker.protocol import lengths
from ocpp_worker.state import idtags
from ocpp_worker.state.store import Store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ocpp-idtag", description="Manage the idTag registry in Redis.")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create or replace a tag")
    add.add_argument("id_tag")
    add.add_argument("--status", default="Accepted", choices=idtags.STATUSES)
    add.add_argument("--expiry", help="expiryDate, ISO 8601")
    add.add_argument("--parent", help="parentIdTag")
    for name in ("remove", "show"):
        commands.add_parser(name).add_argument("id_tag")
    commands.add_parser("list")
    args = parser.parse_args(argv)

    if len(getattr(args, "id_tag", "")) > lengths.ID_TOKEN:
        parser.error(f"an idTag has at most {lengths.ID_TOKEN} characters (OCPP 1.6 IdToken)")
    store = Store.connect()
    if args.command == "add":
        expiry = None
        if args.expiry:
            moment = timeutil.parse(args.expiry)
            if moment is None:
                parser.error(f"--expiry {args.expiry!r} is not an ISO 8601 date-time")
            expiry = timeutil.iso(moment)
        created = idtags.put(store, args.id_tag, args.status, expiry, args.parent)
        print(f"{'added' if created else 'updated'} {args.id_tag}: {args.status}")
    elif args.command == "remove":
        if not idtags.delete(store, args.id_tag):
            print(f"no such idTag: {args.id_tag}", file=sys.stderr)
            return 1
        print(f"removed {args.id_tag}")
    elif args.command == "show":
        tag = idtags.get(store, args.id_tag)
        if tag is None:
            print(f"no such idTag: {args.id_tag}", file=sys.stderr)
            return 1
        print(json.dumps({"idTag": args.id_tag, **tag}))
    else:
        for id_tag in idtags.names(store):
            print(id_tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
