"""Writes the way Salesforce does them: validation, system fields, owners, trigger events.

A `RecordTransaction` is one API call's worth of DML: one SQLite transaction, one
SystemModstamp, and the list of trigger events (`after_insert`, `after_update`,
`after_undelete`) that the emulated Apex side turns into callouts after commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sandbox.errors import SalesforceError, entity_deleted, not_found
from sandbox.fields import to_json, to_stored
from sandbox.ids import normalize_id
from sandbox.schema import FieldDef, ObjectDef, Schema
from sandbox.store import Database


@dataclass(frozen=True)
class TriggerEvent:
    object_name: str
    event: str
    record_id: str


def record_json(
    obj: ObjectDef, row: dict[str, Any], version: str, fields: list[str] | None = None
) -> dict[str, Any]:
    """A record as REST returns it: `attributes` first, then fields in describe order."""
    body: dict[str, Any] = {"attributes": {"type": obj.name, "url": obj.url(version, row["Id"])}}
    names = fields if fields is not None else list(obj.fields)
    for name in names:
        f = obj.field(name)
        if f is not None:
            body[f.name] = to_json(f, row.get(f.name))
    return body


@dataclass
class RecordTransaction:
    db: Database
    schema: Schema
    user_id: str
    events: list[TriggerEvent] = field(default_factory=list)
    _stamp: str | None = None

    @property
    def stamp(self) -> str:
        if self._stamp is None:
            self._stamp = self.db.next_modstamp()
        return self._stamp

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo this block's rows and events if it raises."""
        mark = len(self.events)
        try:
            with self.db.savepoint():
                yield
        except BaseException:
            del self.events[mark:]
            raise

    # --- lookups ------------------------------------------------------------------------
    def object(self, name: str) -> ObjectDef:
        obj = self.schema.get(name)
        if obj is None:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", status=404)
        return obj

    def existing(self, obj: ObjectDef, record_id: str) -> dict[str, Any]:
        """The live record, or NOT_FOUND / ENTITY_IS_DELETED / MALFORMED_ID."""
        normalized = normalize_id(record_id)
        if normalized is None or normalized[:3] != obj.key_prefix:
            raise SalesforceError(
                "MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: {record_id}",
                ["Id"], status=404 if normalized is None else 400,
            )  # fmt: skip
        row = self.db.fetch_row(obj.name, normalized)
        if row is None:
            raise not_found()
        if row["IsDeleted"]:
            raise entity_deleted()
        return row

    def _check_reference(self, f: FieldDef, value: str) -> None:
        target = self.schema.get(f.reference_to or "")
        if target is None or value[:3] != target.key_prefix:
            raise SalesforceError(
                "FIELD_INTEGRITY_EXCEPTION",
                f"{f.label}: id value of incorrect type: {value}",
                [f.name],
            )
        row = self.db.fetch_row(target.name, value)
        if row is None or row["IsDeleted"]:
            raise SalesforceError(
                "INVALID_CROSS_REFERENCE_KEY", f"{f.label}: invalid cross reference id", [f.name]
            )
        if f.name == "OwnerId" and not row["IsActive"]:
            raise SalesforceError(
                "INACTIVE_OWNER_OR_USER",
                f"operation performed with inactive user [{value}] as owner of record",
                [f.name],
            )

    def _converted(self, obj: ObjectDef, values: dict[str, Any], system: bool) -> dict[str, Any]:
        converted: dict[str, Any] = {}
        for key, value in values.items():
            if key == "attributes":
                continue
            f = obj.field(key)
            if f is None:
                raise SalesforceError(
                    "INVALID_FIELD",
                    f"No such column '{key}' on sobject of type {obj.name}",
                    [key],
                )
            converted[f.name] = (f, value)
        for name, (f, value) in converted.items():
            stored = to_stored(f, value)
            if f.type == "reference" and stored is not None and not system:
                self._check_reference(f, stored)
            converted[name] = stored
        return converted

    @staticmethod
    def _not_writable(obj: ObjectDef, names: list[str]) -> SalesforceError:
        return SalesforceError(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(names)}. Please check the security "
            "settings of this field and verify that it is read/write for your profile or "
            "permission set.",
            names,
        )

    @staticmethod
    def _compute_name(obj: ObjectDef, row: dict[str, Any]) -> None:
        name = obj.fields.get("Name")
        if name is not None and name.computed:
            parts = [row.get("FirstName"), row.get("LastName")]
            row["Name"] = " ".join(p for p in parts if p) or None

    # --- DML ----------------------------------------------------------------------------
    def create(self, object_name: str, values: dict[str, Any], *, system: bool = False) -> str:
        obj = self.object(object_name)
        if not obj.createable and not system:
            raise SalesforceError(
                "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                f"entity type {obj.name} does not support insert",
            )
        if any(k.lower() == "id" for k in values):
            raise SalesforceError(
                "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
            )
        row = self._converted(obj, values, system)
        if not system:
            blocked = [n for n in row if not obj.fields[n].createable]
            if blocked:
                raise self._not_writable(obj, blocked)
        for f in obj.fields.values():
            if f.name not in row and f.default is not None:
                row[f.name] = to_stored(f, f.default)
        if obj.has_owner and row.get("OwnerId") is None:
            row["OwnerId"] = self.user_id
        missing = [
            f.name
            for f in obj.fields.values()
            if f.required and f.name != "OwnerId" and row.get(f.name) is None
        ]
        if missing:
            raise SalesforceError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )  # fmt: skip
        self._compute_name(obj, row)
        record_id = self.db.next_id(obj.key_prefix)
        stamp = self.stamp
        row.update(
            Id=record_id, IsDeleted=0, CreatedById=self.user_id, LastModifiedById=self.user_id,
            LastModifiedDate=stamp, SystemModstamp=stamp,
        )  # fmt: skip
        row.setdefault("CreatedDate", stamp)
        if system and row["CreatedDate"] > stamp:
            row["CreatedDate"] = stamp
        for f in obj.fields.values():
            if f.type == "boolean" and row.get(f.name) is None:
                row[f.name] = 0
        self.db.insert_row(obj.name, row)
        self.events.append(TriggerEvent(obj.name, "after_insert", record_id))
        return record_id

    def update(
        self, object_name: str, record_id: str, values: dict[str, Any], *, system: bool = False
    ) -> str:
        obj = self.object(object_name)
        current = self.existing(obj, record_id)
        values = {k: v for k, v in values.items() if k.lower() != "id"}
        changes = self._converted(obj, values, system)
        if not system:
            blocked = [n for n in changes if not obj.fields[n].updateable]
            if blocked:
                raise self._not_writable(obj, blocked)
            if obj.name == "Lead" and current.get("IsConverted"):
                raise SalesforceError(
                    "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", ["Id"]
                )
        cleared = [n for n, v in changes.items() if v is None and obj.fields[n].required]
        if cleared:
            raise SalesforceError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(cleared)}]",
                cleared,
            )  # fmt: skip
        merged = {**current, **changes}
        self._compute_name(obj, merged)
        if "Name" in obj.fields and obj.fields["Name"].computed:
            changes["Name"] = merged["Name"]
        stamp = self.stamp
        changes.update(LastModifiedById=self.user_id, LastModifiedDate=stamp, SystemModstamp=stamp)
        self.db.update_row(obj.name, current["Id"], changes)
        self.events.append(TriggerEvent(obj.name, "after_update", current["Id"]))
        return str(current["Id"])

    def object_of(self, record_id: str) -> ObjectDef:
        normalized = normalize_id(record_id)
        obj = self.schema.by_prefix(normalized[:3]) if normalized else None
        if obj is None:
            raise SalesforceError("MALFORMED_ID", f"malformed id {record_id}", ["Id"])
        return obj

    def delete(self, record_id: str, object_name: str | None = None) -> str:
        obj = self.object(object_name) if object_name else self.object_of(record_id)
        if not obj.createable:
            raise SalesforceError("INVALID_TYPE", f"entity type {obj.name} does not support delete")
        current = self.existing(obj, record_id)
        stamp = self.stamp
        self.db.update_row(
            obj.name, current["Id"],
            {"IsDeleted": 1, "LastModifiedById": self.user_id, "LastModifiedDate": stamp,
             "SystemModstamp": stamp},
        )  # fmt: skip
        return str(current["Id"])

    def undelete(self, record_id: str) -> str:
        obj = self.object_of(record_id)
        normalized = normalize_id(record_id) or record_id
        row = self.db.fetch_row(obj.name, normalized)
        if row is None:
            raise SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if not row["IsDeleted"]:
            raise SalesforceError("UNDELETE_FAILED", "Entity is not in the recycle bin")
        stamp = self.stamp
        self.db.update_row(
            obj.name, normalized,
            {"IsDeleted": 0, "LastModifiedById": self.user_id, "LastModifiedDate": stamp,
             "SystemModstamp": stamp},
        )  # fmt: skip
        self.events.append(TriggerEvent(obj.name, "after_undelete", normalized))
        return normalized


@contextmanager
def record_transaction(db: Database, schema: Schema, user_id: str) -> Iterator[RecordTransaction]:
    """One API call's DML in one SQLite transaction (rolled back if the block raises)."""
    with db.transaction():
        yield RecordTransaction(db, schema, user_id)
