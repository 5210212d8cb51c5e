"""The sandbox's object model: standard objects and custom fields from a schema file.

A schema file (JSON, or YAML when PyYAML is installed) declares custom fields per object:

    {"objects": {"Lead": {"fields": [{"name": "Score__c", "type": "double", "label": "Score"}]}}}

Field types: string, email, phone, url, textarea, picklist, boolean, int, double, currency,
percent, date, datetime, reference (with `referenceTo` and `relationshipName`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sandbox.standard_objects import STANDARD_OBJECTS

TEXT_TYPES = frozenset({"string", "email", "phone", "url", "textarea", "picklist", "id"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: str
    length: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    custom: bool = False
    default: Any = None
    reference_to: str | None = None
    relationship_name: str | None = None
    picklist_values: tuple[str, ...] = ()
    computed: bool = False  # maintained by the sandbox (e.g. Name = FirstName + LastName)

    @property
    def required(self) -> bool:
        return self.createable and not self.nillable and self.default is None

    @property
    def sql_type(self) -> str:
        if self.type in ("boolean", "int"):
            return "INTEGER"
        if self.type in ("double", "currency", "percent"):
            return "REAL"
        if self.type in ("id", "reference"):
            return "TEXT"
        return "TEXT COLLATE NOCASE"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "label": self.label,
            "length": self.length,
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": self.nillable,
            "custom": self.custom,
            "defaultValue": self.default,
            "defaultedOnCreate": self.default is not None or self.name in SYSTEM_FIELDS,
            "filterable": True,
            "sortable": self.type != "textarea",
            "calculated": self.computed,
            "unique": False,
            "externalId": False,
            "idLookup": self.name == "Id",
            "referenceTo": [self.reference_to] if self.reference_to else [],
            "relationshipName": self.relationship_name,
            "picklistValues": [
                {"active": True, "defaultValue": v == self.default, "label": v, "value": v}
                for v in self.picklist_values
            ],
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
        }


_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}

SYSTEM_FIELDS = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)


@dataclass
class ObjectDef:
    name: str
    key_prefix: str
    label: str
    label_plural: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    createable: bool = True
    has_owner: bool = True

    def field(self, name: str) -> FieldDef | None:
        return self._lower().get(name.lower())

    def _lower(self) -> dict[str, FieldDef]:
        cache = self.__dict__.get("_lower_cache")
        if cache is None or len(cache) != len(self.fields):
            cache = {k.lower(): v for k, v in self.fields.items()}
            self.__dict__["_lower_cache"] = cache
        return cache

    def relationship(self, name: str) -> FieldDef | None:
        lowered = name.lower()
        for candidate in self.fields.values():
            if candidate.relationship_name and candidate.relationship_name.lower() == lowered:
                return candidate
        return None

    def url(self, version: str, record_id: str | None = None) -> str:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return f"{base}/{record_id}" if record_id else base

    def describe_global(self, version: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix,
            "custom": False,
            "createable": self.createable,
            "updateable": self.createable,
            "deletable": self.createable,
            "queryable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": self.createable,
            "urls": {
                "sobject": self.url(version),
                "describe": self.url(version) + "/describe",
                "rowTemplate": self.url(version) + "/{ID}",
            },
        }

    def describe(self, version: str) -> dict[str, Any]:
        described = self.describe_global(version)
        described["fields"] = [f.describe() for f in self.fields.values()]
        return described


@dataclass
class Schema:
    objects: dict[str, ObjectDef]

    def get(self, name: str) -> ObjectDef | None:
        lowered = name.lower()
        for obj in self.objects.values():
            if obj.name.lower() == lowered:
                return obj
        return None

    def by_prefix(self, prefix: str) -> ObjectDef | None:
        for obj in self.objects.values():
            if obj.key_prefix == prefix:
                return obj
        return None


def _field_from_spec(spec: dict[str, Any]) -> FieldDef:
    name = str(spec["name"])
    if not name.endswith("__c"):
        raise ValueError(f"custom field {name!r} must end with __c")
    ftype = str(spec.get("type", "string")).lower()
    if ftype == "reference" and not spec.get("referenceTo"):
        raise ValueError(f"reference field {name!r} needs referenceTo")
    relationship = spec.get("relationshipName")
    if ftype == "reference" and not relationship:
        relationship = name[:-3] + "__r"
    return FieldDef(
        name=name,
        type=ftype,
        label=str(spec.get("label", name[:-3].replace("_", " "))),
        length=int(spec.get("length", 255 if ftype in TEXT_TYPES else 0)),
        nillable=bool(spec.get("nillable", True)),
        custom=True,
        default=spec.get("defaultValue"),
        reference_to=spec.get("referenceTo"),
        relationship_name=relationship,
        picklist_values=tuple(spec.get("picklistValues", ())),
    )


def _read_schema_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        text = resources.files("sandbox").joinpath("default_schema.json").read_text("utf-8")
        return json.loads(text)
    text = path.read_text("utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml  # type: ignore[import-untyped]  # optional: only for YAML schema files

        return yaml.safe_load(text) or {}
    return json.loads(text)


def load_schema(path: Path | None = None) -> Schema:
    """Standard objects plus the custom fields declared in `path` (default: the shipped one)."""
    objects = {name: factory() for name, factory in STANDARD_OBJECTS.items()}
    spec = _read_schema_file(path)
    for object_name, object_spec in (spec.get("objects") or {}).items():
        obj = objects.get(object_name)
        if obj is None:
            raise ValueError(f"schema file names unknown object {object_name!r}")
        for field_spec in object_spec.get("fields", []):
            custom = _field_from_spec(field_spec)
            obj.fields[custom.name] = custom
    return Schema(objects)
