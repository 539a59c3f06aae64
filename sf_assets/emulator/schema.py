"""Object and field definitions: describe() metadata plus the generator of each field."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from .values import Flag, Gen, Later, Moment, Number, Text

SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int",
    "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double", "date": "xsd:date",
    "datetime": "xsd:dateTime", "time": "xsd:time", "base64": "xsd:base64Binary",
    "address": "urn:address", "location": "urn:location",
}
STRINGISH = {"string", "textarea", "picklist", "multipicklist", "email", "phone", "url", "id", "reference"}
ADDRESS_PARTS = ("Street", "City", "State", "PostalCode", "Country", "Latitude", "Longitude")


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
    """Components plus compound field of an address (e.g. Billing → BillingAddress)."""
    compound = f"{prefix}Address"
    gens = {
        "Street": Text(("1 Main St", "500 Market Street\nSuite 200", "42 Rue de la Paix", "8 Elm Rd"), null, 0.01),
        "City": Text(("San Francisco", "Paris", "Zürich", "東京", "New York", "Austin"), null),
        "State": Text(("CA", "NY", "TX", "IDF", "ZH"), null),
        "PostalCode": Text(("94105", "75002", "8001", "10001", " 73301 "), null),
        "Country": Text(("USA", "France", "Switzerland", "Japan"), null),
        "Latitude": Number(-90_000000, 90_000000, 6, as_float=True, null=null),
        "Longitude": Number(-180_000000, 180_000000, 6, as_float=True, null=null),
    }
    fields = [
        Field(f"{prefix}{part}", "double" if part in ("Latitude", "Longitude") else "textarea" if part == "Street" else "string",
              gen, precision=18 if part in ("Latitude", "Longitude") else 0, scale=15 if part in ("Latitude", "Longitude") else 0,
              compound_field_name=compound)
        for part, gen in gens.items()
    ]
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
