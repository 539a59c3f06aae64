"""Typed views of Salesforce describe() metadata (objects and their fields)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any


@dataclass(frozen=True)
class FieldMeta:
    """One field of a describe() result, with the attributes the pipeline relies on."""

    name: str
    type: str
    soap_type: str = ""
    nillable: bool = True
    filterable: bool = True
    id_lookup: bool = False
    calculated: bool = False
    compound_field_name: str | None = None
    deprecated_and_hidden: bool = False
    precision: int = 0
    scale: int = 0
    length: int = 0
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist_values: tuple[str, ...] = ()
    createable: bool = False
    updateable: bool = False

    @classmethod
    def from_describe(cls, field_json: Mapping[str, Any]) -> FieldMeta:
        """Build from one entry of describe()["fields"]; missing keys take safe defaults."""
        return cls(
            name=str(field_json["name"]),
            type=str(field_json.get("type") or "").lower(),
            soap_type=str(field_json.get("soapType") or ""),
            nillable=bool(field_json.get("nillable", True)),
            filterable=bool(field_json.get("filterable", True)),
            id_lookup=bool(field_json.get("idLookup", False)),
            calculated=bool(field_json.get("calculated", False)),
            compound_field_name=field_json.get("compoundFieldName") or None,
            deprecated_and_hidden=bool(field_json.get("deprecatedAndHidden", False)),
            precision=int(field_json.get("precision") or 0),
            scale=int(field_json.get("scale") or 0),
            length=int(field_json.get("length") or 0),
            reference_to=tuple(field_json.get("referenceTo") or ()),
            relationship_name=field_json.get("relationshipName") or None,
            picklist_values=tuple(
                str(p["value"]) for p in field_json.get("picklistValues") or () if "value" in p
            ),
            createable=bool(field_json.get("createable", False)),
            updateable=bool(field_json.get("updateable", False)),
        )


@dataclass(frozen=True)
class ObjectMeta:
    """An sObject's describe(): fields in describe order, looked up case-insensitively."""

    name: str
    fields: dict[str, FieldMeta]
    _by_lower: dict[str, FieldMeta] = dc_field(init=False, repr=False, compare=False)
    _by_relationship: dict[str, FieldMeta] = dc_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_lower", {f.name.lower(): f for f in self.fields.values()})
        object.__setattr__(
            self,
            "_by_relationship",
            {f.relationship_name.lower(): f for f in self.fields.values() if f.relationship_name},
        )

    @classmethod
    def from_describe(cls, describe_json: Mapping[str, Any]) -> ObjectMeta:
        """Build from an sObject describe() JSON document."""
        metas = [FieldMeta.from_describe(f) for f in describe_json.get("fields") or ()]
        return cls(name=str(describe_json["name"]), fields={f.name: f for f in metas})

    def field(self, name: str) -> FieldMeta | None:
        """The field called ``name`` (any case), carrying its canonical name; None if absent."""
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> FieldMeta | None:
        """The lookup field whose relationshipName is ``name`` (any case)."""
        return self._by_relationship.get(name.lower())

    def components(self, compound_name: str) -> tuple[FieldMeta, ...]:
        """Component fields of a compound (address/location) field, in describe order."""
        key = compound_name.lower()
        return tuple(
            f for f in self.fields.values()
            if f.compound_field_name and f.compound_field_name.lower() == key
        )
