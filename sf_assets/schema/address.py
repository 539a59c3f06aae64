"""Standard compound address fields (BillingAddress, MailingAddress, Address): the component fields they stand for.

Salesforce's Address type combines Street, City, State, StateCode, PostalCode, Country, CountryCode,
Latitude, Longitude and GeocodeAccuracy; on standard addresses StateCode and CountryCode exist only when
state and country/territory picklists are enabled
(https://developer.salesforce.com/docs/platform/object-reference/guide/compound-fields-address.html).
Bulk API 2.0 refuses compound fields, so a selected address becomes its components: from describe() when
the org's catalog is known (the field planner), from here when it is not (the offline check's text plan).
The emulator models the org's addresses on its own (it imports nothing of the product), so a wrong table here
fails against it instead of agreeing with it.
"""

from __future__ import annotations

ADDRESS_PARTS = ("Street", "City", "State", "StateCode", "PostalCode", "Country", "CountryCode", "Latitude",
                 "Longitude", "GeocodeAccuracy")
PICKLIST_PARTS = frozenset({"StateCode", "CountryCode"})  # only with state and country/territory picklists
_SUFFIX = "Address"


def is_standard_address(name: str) -> bool:
    """Whether a SOQL field name is a standard address compound of its own object (BillingAddress, Address)."""
    return "." not in name and name.endswith(_SUFFIX) and not name.endswith("__c")


def address_components(compound: str, *, picklists: bool = True) -> tuple[str, ...]:
    """The component fields of a standard address compound in Salesforce's order (BillingAddress → BillingStreet,
    BillingCity, …); without `picklists`, as an org without state and country/territory picklists has them."""
    prefix = compound.removesuffix(_SUFFIX)
    return tuple(prefix + part for part in ADDRESS_PARTS if picklists or part not in PICKLIST_PARTS)

