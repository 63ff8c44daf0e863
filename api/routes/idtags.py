"""The idTag registry that Authorize and StartTransaction consult."""

from __future__ import annotations

from typing import Any

from api.context import store
from api.errors import found, invalid, not_found
from api.schemas.common import PageArgs, envelope, page
from api.schemas.idtags import IdTagBody, IdTagSchema
from api.smorest import Blueprint, Reply
from ocpp_worker import timeutil
from ocpp_worker.state import idtags

bp = Blueprint("idtags", __name__, url_prefix="/api/v1/idtags", description="The idTag registry")

MAX_ID_TAG = 20  # IdToken is a CiString20


def _view(id_tag: str, tag: dict[str, str]) -> dict[str, Any]:
    effective = idtags.id_tag_info(store(), id_tag, timeutil.utc_now(), concurrent_check=True)["status"]
    return {"idTag": id_tag, **tag, "effectiveStatus": effective}


@bp.get("")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page(IdTagSchema))
def list_idtags(query: dict[str, Any]) -> dict[str, Any]:
    """Registered idTags, in idTag order"""
    tags, total = idtags.list_tags(store(), query["offset"], query["limit"])
    return {"items": [_view(tag["idTag"], tag) for tag in tags], "total": total}


@bp.get("/<id_tag>")
@bp.response(200, IdTagSchema)
@bp.errors(404)
def get_idtag(id_tag: str) -> dict[str, Any]:
    """One idTag; effectiveStatus is what Authorize answers now"""
    return _view(id_tag, found(idtags.get(store(), id_tag), f"idTag {id_tag}"))


@bp.put("/<id_tag>")
@bp.arguments(IdTagBody)
@bp.response(200, IdTagSchema, description="Replaced")
@bp.alt_response(201, schema=envelope(IdTagSchema), description="Created", success=True)
def put_idtag(body: dict[str, Any], id_tag: str) -> Reply:
    """Create (201) or replace (200) an idTag"""
    if len(id_tag) > MAX_ID_TAG:
        raise invalid("invalid idTag", {"idTag": [f"Longer than maximum length {MAX_ID_TAG}."]})
    expiry = body.get("expiryDate")
    created = idtags.put(
        store(),
        id_tag,
        body["status"],
        timeutil.iso(expiry) if expiry else None,
        body.get("parentIdTag"),
    )
    tag = idtags.get(store(), id_tag) or {}
    return Reply(_view(id_tag, tag), 201 if created else 200, "created" if created else "replaced")


@bp.delete("/<id_tag>")
@bp.response(200)
@bp.errors(404)
def delete_idtag(id_tag: str) -> None:
    """Remove an idTag (Authorize answers Invalid for it from now on)"""
    if not idtags.delete(store(), id_tag):
        raise not_found(f"idTag {id_tag} is unknown")
