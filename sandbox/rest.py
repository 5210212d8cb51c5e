"""REST API handlers under `/services/data/vXX.X/`."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sandbox.errors import SalesforceError, entity_deleted, not_found
from sandbox.faults import lock_error
from sandbox.ids import normalize_id
from sandbox.records import RecordTransaction, record_json
from sandbox.schema import ObjectDef
from sandbox.state import SUPPORTED_VERSIONS, SandboxState

MAX_COLLECTION = 200


class _RolledBack(Exception):
    """Raised inside a write to undo an allOrNone call that had failures."""


def _state(request: web.Request) -> SandboxState:
    return request.app["sandbox"]  # type: ignore[no-any-return]


def _version(request: web.Request) -> str:
    return request.match_info["version"]


def _user(request: web.Request) -> str:
    return str(request["session"].user_id)


def _object(request: web.Request) -> ObjectDef:
    name = request.match_info["sobject"]
    obj = _state(request).schema.get(name)
    if obj is None:
        raise SalesforceError(
            "NOT_FOUND", f"The requested resource does not exist: sObject type '{name}'", status=404
        )
    return obj


async def _json(request: web.Request) -> Any:
    text = await request.text()
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError as error:
        raise SalesforceError(
            "JSON_PARSER_ERROR",
            f"Unexpected character at [line:{error.lineno}, column:{error.colno}]",
        ) from None


def _record_fault(request: web.Request, index: int, record_id: str | None) -> None:
    rule = request.get("record_fault")
    if rule is not None and _state(request).faults.record_fails(rule, index):
        raise lock_error(record_id)


# --- discovery ---------------------------------------------------------------------------
async def versions(request: web.Request) -> web.Response:
    return web.json_response(
        [
            {"label": f"v{v}", "url": f"/services/data/v{v}", "version": v}
            for v in SUPPORTED_VERSIONS
        ]
    )


async def resources(request: web.Request) -> web.Response:
    base = f"/services/data/v{_version(request)}"
    names = ("sobjects", "query", "queryAll", "composite", "limits")
    return web.json_response({name: f"{base}/{name}" for name in names})


async def limits(request: web.Request) -> web.Response:
    return web.json_response(_state(request).usage.limits())


async def describe_global(request: web.Request) -> web.Response:
    version = _version(request)
    objects = [o.describe_global(version) for o in _state(request).schema.objects.values()]
    return web.json_response({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects})


async def sobject_info(request: web.Request) -> web.Response:
    obj = _object(request)
    return web.json_response(
        {"objectDescribe": obj.describe_global(_version(request)), "recentItems": []}
    )


async def describe(request: web.Request) -> web.Response:
    return web.json_response(_object(request).describe(_version(request)))


# --- single records ----------------------------------------------------------------------
async def create(request: web.Request) -> web.Response:
    obj = _object(request)
    body = await _json(request)
    if not isinstance(body, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "Expected a JSON object for the record")
    _record_fault(request, 0, None)
    with _state(request).write(_user(request)) as tx:
        record_id = tx.create(obj.name, body)
    return web.json_response({"id": record_id, "success": True, "errors": []}, status=201)


def _selected_fields(obj: ObjectDef, raw: str | None) -> list[str] | None:
    if not raw:
        return None
    names: list[str] = []
    for name in raw.split(","):
        f = obj.field(name.strip())
        if f is None:
            raise SalesforceError(
                "INVALID_FIELD", f"No such column '{name.strip()}' on entity '{obj.name}'."
            )
        names.append(f.name)
    return names


async def read(request: web.Request) -> web.Response:
    obj = _object(request)
    state = _state(request)
    record_id = normalize_id(request.match_info["record_id"])
    if record_id is None or record_id[:3] != obj.key_prefix:
        raise not_found()
    row = state.db.fetch_row(obj.name, record_id)
    if row is None:
        raise not_found()
    if row["IsDeleted"]:
        raise entity_deleted()
    fields = _selected_fields(obj, request.query.get("fields"))
    return web.json_response(record_json(obj, row, _version(request), fields))


async def update(request: web.Request) -> web.Response:
    obj = _object(request)
    body = await _json(request)
    if not isinstance(body, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "Expected a JSON object for the record")
    _record_fault(request, 0, request.match_info["record_id"])
    with _state(request).write(_user(request)) as tx:
        tx.update(obj.name, request.match_info["record_id"], body)
    return web.Response(status=204)


async def delete(request: web.Request) -> web.Response:
    obj = _object(request)
    _record_fault(request, 0, request.match_info["record_id"])
    with _state(request).write(_user(request)) as tx:
        tx.delete(request.match_info["record_id"], obj.name)
    return web.Response(status=204)


# --- query -------------------------------------------------------------------------------
def _batch_size(request: web.Request) -> int:
    options = request.headers.get("Sforce-Query-Options", "")
    for part in options.split(","):
        key, _, value = part.strip().partition("=")
        if key.lower() == "batchsize" and value.isdigit():
            return int(value)
    return 2000


async def query(request: web.Request) -> web.Response:
    soql = request.query.get("q")
    if not soql:
        raise SalesforceError("MALFORMED_QUERY", "A query string has to be specified")
    include_deleted = request.match_info["kind"] == "queryAll"
    result = _state(request).engine.run(
        soql, include_deleted=include_deleted, version=_version(request),
        batch_size=_batch_size(request),
    )  # fmt: skip
    return web.json_response(result)


async def query_more(request: web.Request) -> web.Response:
    locator, _, offset = request.match_info["cursor"].rpartition("-")
    if not locator or not offset.isdigit():
        raise SalesforceError("INVALID_QUERY_LOCATOR", "invalid query locator")
    result = _state(request).engine.more(locator, int(offset), _version(request))
    return web.json_response(result)


# --- sObject Collections -----------------------------------------------------------------
def _too_many() -> SalesforceError:
    return SalesforceError(
        "EXCEEDED_ID_LIMIT",
        f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this call",
    )


def _result(record_id: str | None, error: SalesforceError | None = None) -> dict[str, Any]:
    if error is None:
        return {"id": record_id, "success": True, "errors": []}
    return {"id": record_id, "success": False, "errors": [error.record_error()]}


def _per_record(error: SalesforceError) -> SalesforceError:
    if error.error_code == "NOT_FOUND":
        return SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
    return error


def _run_collection(
    request: web.Request, items: list[Any], all_or_none: bool, apply: Any
) -> list[dict[str, Any]]:
    """Apply `apply(tx, index, item) -> id` to each item, each in its own savepoint."""
    results: list[dict[str, Any]] = []
    failed = False
    try:
        with _state(request).write(_user(request)) as tx:
            for index, item in enumerate(items):
                guess = item.get("Id") if isinstance(item, dict) else item
                try:
                    with tx.savepoint():
                        results.append(_result(apply(tx, index, item)))
                except SalesforceError as error:
                    failed = True
                    results.append(_result(normalize_id(str(guess)) if guess else None,
                                           _per_record(error)))  # fmt: skip
            if failed and all_or_none:
                raise _RolledBack
    except _RolledBack:
        rolled = SalesforceError(
            "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "Record rolled back because not all records were valid and the request was using "
            "AllOrNone header",
        )
        for result in results:
            if result["success"]:
                result.update(_result(None if request.method == "POST" else result["id"], rolled))
    return results


def _record_type(record: dict[str, Any]) -> str:
    attributes = record.get("attributes")
    if not isinstance(attributes, dict) or not attributes.get("type"):
        raise SalesforceError("INVALID_TYPE", "Must specify a type in the attributes")
    return str(attributes["type"])


async def _collection_body(request: web.Request) -> tuple[list[dict[str, Any]], bool]:
    body = await _json(request)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SalesforceError("JSON_PARSER_ERROR", 'Expected {"allOrNone": ..., "records": [...]}')
    records = body["records"]
    if len(records) > MAX_COLLECTION:
        raise _too_many()
    if not all(isinstance(r, dict) for r in records):
        raise SalesforceError("JSON_PARSER_ERROR", "Each record must be a JSON object")
    return records, bool(body.get("allOrNone", False))


async def collection_create(request: web.Request) -> web.Response:
    records, all_or_none = await _collection_body(request)

    def apply(tx: RecordTransaction, index: int, record: dict[str, Any]) -> str:
        _record_fault(request, index, None)
        return tx.create(_record_type(record), record)

    return web.json_response(_run_collection(request, records, all_or_none, apply))


async def collection_update(request: web.Request) -> web.Response:
    records, all_or_none = await _collection_body(request)

    def apply(tx: RecordTransaction, index: int, record: dict[str, Any]) -> str:
        record_id = record.get("Id") or record.get("id")
        if not record_id:
            raise SalesforceError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        _record_fault(request, index, str(record_id))
        return tx.update(_record_type(record), str(record_id), record)

    return web.json_response(_run_collection(request, records, all_or_none, apply))


async def collection_delete(request: web.Request) -> web.Response:
    ids = [i for i in request.query.get("ids", "").split(",") if i.strip()]
    if not ids:
        raise SalesforceError("MISSING_ARGUMENT", "ids parameter is required", ["ids"])
    if len(ids) > MAX_COLLECTION:
        raise _too_many()
    all_or_none = request.query.get("allOrNone", "false").lower() == "true"

    def apply(tx: RecordTransaction, index: int, record_id: str) -> str:
        _record_fault(request, index, record_id)
        return tx.delete(record_id.strip())

    return web.json_response(_run_collection(request, ids, all_or_none, apply))


async def collection_retrieve(request: web.Request) -> web.Response:
    obj = _object(request)
    ids = [i.strip() for i in request.query.get("ids", "").split(",") if i.strip()]
    if len(ids) > 2000:
        raise _too_many()
    fields = _selected_fields(obj, request.query.get("fields"))
    if fields is None:
        raise SalesforceError("MISSING_ARGUMENT", "fields parameter is required", ["fields"])
    state = _state(request)
    out: list[Any] = []
    for raw in ids:
        record_id = normalize_id(raw)
        row = state.db.fetch_row(obj.name, record_id) if record_id else None
        ok = row is not None and not row["IsDeleted"]
        out.append(record_json(obj, row, _version(request), fields) if ok and row else None)
    return web.json_response(out)


def add_routes(app: web.Application) -> None:
    base = r"/services/data/v{version:\d+\.\d}"
    slash = "{slash:/?}"
    r = app.router
    r.add_get("/services/data{slash:/?}", versions)
    r.add_get(base + slash, resources)
    r.add_get(base + "/limits" + slash, limits)
    r.add_get(base + "/sobjects" + slash, describe_global)
    r.add_get(base + "/sobjects/{sobject:[A-Za-z0-9_]+}" + slash, sobject_info)
    r.add_post(base + "/sobjects/{sobject:[A-Za-z0-9_]+}" + slash, create)
    r.add_get(base + "/sobjects/{sobject:[A-Za-z0-9_]+}/describe" + slash, describe)
    item = base + "/sobjects/{sobject:[A-Za-z0-9_]+}/{record_id:[A-Za-z0-9]+}" + slash
    r.add_get(item, read)
    r.add_patch(item, update)
    r.add_delete(item, delete)
    r.add_get(base + "/{kind:query|queryAll}" + slash, query)
    r.add_get(base + "/{kind:query|queryAll}/{cursor:[A-Za-z0-9]+-\\d+}" + slash, query_more)
    r.add_post(base + "/composite/sobjects" + slash, collection_create)
    r.add_patch(base + "/composite/sobjects" + slash, collection_update)
    r.add_delete(base + "/composite/sobjects" + slash, collection_delete)
    r.add_get(base + "/composite/sobjects/{sobject:[A-Za-z0-9_]+}" + slash, collection_retrieve)
