"""Object and field definitions: describe() metadata plus the generator of each field, and the schema changes
of an org at run time (fields dropped, added, retyped)."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .values import Flag, Gen, Integer, Later, Moment, Number, Text, WideDouble

SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int",
    "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double", "date": "xsd:date",
    "datetime": "xsd:dateTime", "time": "xsd:time", "base64": "xsd:base64Binary",
    "address": "urn:address", "location": "urn:location",
}
STRINGISH = {"string", "textarea", "picklist", "multipicklist", "email", "phone", "url", "id", "reference"}


@dataclass(frozen=True)
class Field:
    """One sObject field: metadata for describe() and the generator of its values."""

    name: str
    type: str
    gen: Gen | None = None
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    components: tuple[str, ...] = ()
    compound_field_name: str | None = None
    formula: str = ""
    deprecated: bool = False
    nillable: bool = True
    picklist: tuple[str, ...] = ()
    updateable: bool = True

    def arrow_type(self) -> pa.DataType:
        """Arrow type of the typed values of this field."""
        if self.type in STRINGISH:
            return pa.string()
        return {
            "boolean": pa.bool_(), "int": pa.int64(), "double": pa.float64(), "percent": pa.float64(),
            "currency": pa.decimal128(18, self.scale), "date": pa.date32(),
            "datetime": pa.timestamp("ms", tz="UTC"), "time": pa.time32("ms"), "base64": pa.binary(),
        }.get(self.type, pa.string())

    def describe(self) -> dict[str, Any]:
        """describe() entry shaped like Salesforce's."""
        text = self.type in STRINGISH and self.type != "id"
        length = self.length or (18 if self.type in ("id", "reference") else 255 if text else 0)
        system = self.name in ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")
        return {
            "name": self.name, "label": self.label or _label(self.name), "type": self.type,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"), "length": length,
            "byteLength": length * 3, "digits": 9 if self.type == "int" else 0,
            "precision": self.precision, "scale": self.scale,
            "nillable": self.nillable and self.type not in ("id", "boolean"),
            "filterable": self.type not in ("textarea", "address", "location", "base64"),
            "sortable": self.type not in ("textarea", "multipicklist", "address", "location", "base64"),
            "groupable": self.type in STRINGISH or self.type in ("boolean", "date", "int"),
            "idLookup": self.name in ("Id", "Name", "Email"), "calculated": bool(self.formula),
            "calculatedFormula": self.formula or None,
            "compoundFieldName": self.compound_field_name, "deprecatedAndHidden": self.deprecated,
            "referenceTo": list(self.reference_to), "relationshipName": self.relationship_name,
            "picklistValues": [
                {"value": v, "label": v, "active": True, "defaultValue": False, "validFor": None}
                for v in self.picklist
            ],
            "createable": not (system or self.formula), "updateable": self.updateable and not (system or self.formula),
            "externalId": False, "unique": False, "custom": self.name.endswith("__c") or self.name.endswith("__s"),
            "autoNumber": False, "caseSensitive": False, "defaultValue": None, "htmlFormatted": False,
        }


@dataclass(frozen=True)
class SObject:
    """One sObject: name, key prefix, fields."""

    name: str
    prefix: str
    fields: tuple[Field, ...]
    label: str = ""
    by_name: dict[str, Field] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_name.update({f.name.lower(): f for f in self.fields})

    def get(self, name: str) -> Field | None:
        """Field by case-insensitive name."""
        return self.by_name.get(name.lower())

    def relationship(self, rel: str) -> Field | None:
        """Reference field whose relationshipName is ``rel`` (case-insensitive)."""
        return next((f for f in self.fields if (f.relationship_name or "").lower() == rel.lower()), None)


def _label(name: str) -> str:
    return name.removesuffix("__c").removesuffix("__s").replace("_", " ")


def address(prefix: str, null: float = 0.05) -> list[Field]:
    """Components plus compound field of an address (e.g. Billing → BillingAddress), as an org without state and
    country/territory picklists has them; GeocodeAccuracy is left out (no geocoding here: REST shows it null)."""
    compound = f"{prefix}Address"
    gens: dict[str, Gen] = {
        "Street": Text(("1 Main St", "500 Market Street\nSuite 200", "42 Rue de la Paix", "8 Elm Rd"), null, 0.01),
        "City": Text(("San Francisco", "Paris", "Zürich", "東京", "New York", "Austin"), null),
        "State": Text(("CA", "NY", "TX", "IDF", "ZH"), null),
        "PostalCode": Text(("94105", "75002", "8001", "10001", " 73301 "), null),
        "Country": Text(("USA", "France", "Switzerland", "Japan"), null),
        "Latitude": Number(-90_000000, 90_000000, 6, as_float=True, null=null),
        "Longitude": Number(-180_000000, 180_000000, 6, as_float=True, null=null),
    }
    fields = []
    for part in gens:  # Salesforce's order of an Address's components
        geo = part in ("Latitude", "Longitude")
        kind = "double" if geo else "textarea" if part == "Street" else "string"
        fields.append(Field(prefix + part, kind, gens[part], precision=18 if geo else 0, scale=15 if geo else 0,
                            compound_field_name=compound))
    return fields + [Field(compound, "address", components=tuple(f.name for f in fields), updateable=False)]


def system_fields() -> list[Field]:
    """Id, IsDeleted and the audit datetimes every object has."""
    return [
        Field("Id", "id", nillable=False, label="Record ID"),
        Field("IsDeleted", "boolean", Flag(0.02), label="Deleted"),
        Field("CreatedDate", "datetime", Moment("datetime")),
        Field("LastModifiedDate", "datetime", Later("CreatedDate")),
        Field("SystemModstamp", "datetime", Later("LastModifiedDate", 1)),
    ]


def added_field(name: str, sf_type: str, length: int = 0) -> Field:
    """A field created in the org at run time, with a generator for its type (string-like types get text)."""
    gens: dict[str, Gen] = {
        "int": Integer(-1000, 1_000_000, 0.1), "double": WideDouble(0.1), "boolean": Flag(0.5),
        "date": Moment("date", 3650, 0.1), "datetime": Moment("datetime", 3650, 0.1, millis=True),
        "currency": Number(0, 10**9, 2, null=0.1), "percent": Number(0, 10000, 2, as_float=True, null=0.1),
    }
    gen = gens.get(sf_type) or Text((f"{name} one", f"{name} two", f"{name} three"), 0.1)
    precision, scale = {"currency": (18, 2), "double": (18, 4), "percent": (5, 2)}.get(sf_type, (0, 0))
    return Field(name, sf_type, gen, length=length, precision=precision, scale=scale)


RETYPES = {"int": pa.int64(), "double": pa.float64(), "string": pa.string(), "textarea": pa.string()}


@dataclass(frozen=True)
class SchemaChange:
    """One change: ``drop`` / ``add`` / ``retype`` of ``object.field`` (type and length for add and retype)."""

    action: str
    object: str
    field: str
    sf_type: str = ""
    length: int = 0

    @classmethod
    def parse(cls, item: str) -> SchemaChange:
        """``drop:Opportunity.Description``, ``add:Widget__c.Memo__c:string[:80]`` or
        ``retype:Widget__c.Ratio__c:int``."""
        action, _, rest = item.strip().partition(":")
        path, _, kind = rest.partition(":")
        obj, dot, name = path.partition(".")
        sf_type, _, length = kind.partition(":")
        if action not in ("drop", "add", "retype") or not dot or not name or (action != "drop") != bool(sf_type):
            raise ValueError(f"schema change {item!r}: expected drop:Object.Field, add:Object.Field:type[:length] "
                             "or retype:Object.Field:type[:length]")
        if action == "retype" and sf_type not in RETYPES:
            raise ValueError(f"schema change {item!r}: a field can be retyped to {', '.join(RETYPES)}")
        if length and not length.isdigit():
            raise ValueError(f"schema change {item!r}: the length must be a number")
        return cls(action, obj, name, sf_type, int(length or 0))

    def __str__(self) -> str:
        tail = f":{self.sf_type}" + (f":{self.length}" if self.length else "") if self.sf_type else ""
        return f"{self.action}:{self.object}.{self.field}{tail}"


def parse_schema_changes(spec: str) -> list[SchemaChange]:
    """The comma-separated changes of ``spec`` (ValueError naming a bad item)."""
    return [SchemaChange.parse(item) for item in spec.split(",") if item.strip()]


class SchemaChanges:
    """Fields dropped, added and retyped in one org while it serves: describe and every query created afterwards
    see them (a dropped field is an INVALID_FIELD; a Bulk job created before keeps its columns). A change may wait
    until ``after_jobs`` more Bulk query jobs were created (a drop in the middle of a refresh)."""

    def __init__(self, jobs_created: Callable[[], int] = lambda: 0) -> None:
        self._jobs_created = jobs_created
        self._lock = threading.Lock()
        self._applied: list[SchemaChange] = []
        self._pending: list[tuple[int, SchemaChange]] = []

    def change(self, spec: str, after_jobs: int = 0) -> list[SchemaChange]:
        """Apply the comma-separated changes of ``spec`` now, or once ``after_jobs`` more jobs were created."""
        changes = parse_schema_changes(spec)
        at = self._jobs_created() + after_jobs
        with self._lock:
            self._pending += [(at, c) for c in changes]
        return changes

    def reset(self) -> None:
        """The objects as defined again: every change undone, pending ones forgotten."""
        with self._lock:
            self._applied, self._pending = [], []

    def applied(self) -> list[str]:
        """The changes in effect now, as spec items."""
        self._due()
        with self._lock:
            return [str(c) for c in self._applied]

    def _due(self) -> list[SchemaChange]:
        jobs = self._jobs_created()
        with self._lock:
            self._applied += [c for at, c in self._pending if at <= jobs]
            self._pending = [(at, c) for at, c in self._pending if at > jobs]
            return list(self._applied)

    def view(self, sobj: SObject) -> SObject:
        """``sobj`` as the org describes it now (dropped fields gone, retyped ones changed, added ones last)."""
        changes = [c for c in self._due() if c.object.lower() == sobj.name.lower()]
        if not changes:
            return sobj
        fields = {f.name.lower(): f for f in sobj.fields}
        for c in changes:
            key = c.field.lower()
            if c.action == "drop":
                fields.pop(key, None)
            elif c.action == "add":
                fields[key] = added_field(c.field, c.sf_type, c.length)
            elif key in fields:
                fields[key] = replace(fields[key], type=c.sf_type, length=c.length or fields[key].length,
                                      precision=18 if c.sf_type == "double" else 0, scale=0)
        return SObject(sobj.name, sobj.prefix, tuple(fields.values()), sobj.label)


def retyped_values(original: Field, field: Field, values: pa.Array) -> pa.Array:
    """Values generated for ``original`` as the retyped ``field`` delivers them (a double becomes a rounded int)."""
    target = RETYPES.get(field.type) if field.type != original.type else None
    if target is None or values.type == target:
        return values
    if pa.types.is_floating(values.type) and pa.types.is_integer(target):
        values = pc.round(values)
    return values.cast(target, safe=False)
