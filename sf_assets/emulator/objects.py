"""The emulated sObjects: Account, Contact, Opportunity and the all-types Widget__c."""
from __future__ import annotations

import pyarrow as pa

from .schema import Field, SObject, address, system_fields
from .values import Blob, Flag, Integer, Joined, Lookup, Moment, Number, Pattern, Percentage, Ref, Text, WideDouble

COMPANIES = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark Industries",
    "Wayne Enterprises",
    "Société Générale",
    "北京科技",
)
STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
          "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost")
STAGE_PROB = (10.0, 10.0, 20.0, 50.0, 60.0, 70.0, 75.0, 90.0, 100.0, 0.0)
STAGE_FORECAST = ("Pipeline", "Pipeline", "Pipeline", "Pipeline", "Pipeline", "Pipeline", "Pipeline",
                  "Commit", "Closed", "Omitted")
INDUSTRIES = ("Agriculture", "Banking", "Biotechnology", "Chemicals", "Energy", "Technology", "Retail")
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
OPP_TYPES = ("Existing Customer - Upgrade", "Existing Customer - Replacement", "New Customer")
FIRST = ("Ann", "José", "Li", "Zoë", "Mohammed", "O'Brien", "Éloïse", "Sam")
LAST = ("Smith", "García", "王", "Müller", "O'Connor", "Nguyen", "de la Cruz", "Dupont")
PHONES = ("(415) 555-0100", "+33 1 23 45 67 89", "555.0199", "+81-3-1234-5678")
DESCRIPTIONS = ("Key account", "Renewal expected next quarter", "Met at conference", "Needs follow-up")
BIG = 123456789012345678  # 1234567890123456.78 at scale 2: the most digits a currency(18, 2) holds


def ref(name: str, target: str, rel: str, null: float) -> Field:
    """Reference field to ``target`` reachable through relationship ``rel``."""
    return Field(name, "reference", Ref(target, null), reference_to=(target,), relationship_name=rel)


def pick(name: str, values: tuple[str, ...], null: float = 0.0, **kw) -> Field:
    return Field(name, "picklist", Text(values, null), picklist=values, **kw)


ACCOUNT = SObject("Account", "001", tuple(system_fields() + [
    Field("Name", "string", Text(COMPANIES, awkward=0.02, numbered=True), nillable=False, label="Account Name"),
    pick("Type", ("Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other"), 0.1),
    pick("Industry", INDUSTRIES, 0.1),
    Field("AnnualRevenue", "currency", Number(0, 5_000_000_000, 0, null=0.1, huge=12345678901234567), precision=18),
    Field("NumberOfEmployees", "int", Integer(1, 250_000, 0.05)),
    pick("Rating", ("Hot", "Warm", "Cold"), 0.3),
    Field("Phone", "phone", Text(PHONES, 0.1), length=40),
    Field("Website", "url", Pattern("https://www.example-", ".com", 0.1)),
    Field("Description", "textarea", Text(DESCRIPTIONS, 0.3, 0.05, long_every=97), length=32000),
    *address("Billing"),
    Field("SLAExpirationDate__c", "date", Moment("date", 3650, 0.2, edges=True)),
    Field("LastReviewed__c", "datetime", Moment("datetime", 3650, 0.1, edges=True, millis=True)),
    Field("CreditScore__c", "double", WideDouble(0.1), precision=18, scale=6),
    ref("ParentId", "Account", "Parent", 0.9),
    Field("OwnerId", "reference", Ref("User"), reference_to=("User",), relationship_name="Owner"),
]), "Account")

CONTACT = SObject("Contact", "003", tuple(system_fields() + [
    ref("AccountId", "Account", "Account", 0.05),
    # Name is a name compound: Bulk returns it as text; its components carry compoundFieldName.
    Field("FirstName", "string", Text(FIRST, 0.02, 0.05), length=40, compound_field_name="Name"),
    Field("LastName", "string", Text(LAST, awkward=0.01, numbered=True), nillable=False, length=80,
          compound_field_name="Name"),
    Field("Name", "string", Joined(("FirstName", "LastName")), nillable=False, length=121, label="Full Name",
          components=("FirstName", "LastName"), updateable=False),
    Field("Email", "email", Pattern("contact.", "@example.com", 0.1), length=80),
    Field("Phone", "phone", Text(PHONES, 0.2), length=40),
    Field("Birthdate", "date", Moment("date", 365 * 60, 0.3, edges=True)),
    Field("LastCURequestDate", "datetime", Moment("datetime", 3650, 0.5, edges=True, millis=True)),
    Field("Weight__c", "double", WideDouble(0.2), precision=18, scale=6),
    *address("Mailing"),
]), "Contact")

OPPORTUNITY = SObject(
    "Opportunity",
    "006",
    tuple(
        system_fields()
        + [
            ref("AccountId", "Account", "Account", 0.03),
            Field(
                "Name",
                "string",
                Text(("Renewal", "Upsell", "New Deal", "Expansion"), awkward=0.01, numbered=True),
                nillable=False,
                length=120,
            ),
            pick("StageName", STAGES, nillable=False),
            Field("Amount", "currency", Number(0, 500_000_000, 2, null=0.05, huge=BIG), precision=18, scale=2),
            Field("Probability", "percent", Lookup("StageName", STAGE_PROB, pa.float64()), precision=3),
            Field("CloseDate", "date", Moment("date", 3650, edges=True), nillable=False),
            Field("TotalOpportunityQuantity", "double", WideDouble(0.3), precision=18, scale=2),
            pick("Type", OPP_TYPES, 0.2),
            pick("LeadSource", LEAD_SOURCES, 0.2),
            Field(
                "IsClosed", "boolean", Lookup("StageName", (False,) * 8 + (True, True), pa.bool_()), updateable=False
            ),
            Field("IsWon", "boolean", Lookup("StageName", (False,) * 8 + (True, False), pa.bool_()), updateable=False),
            Field(
                "ForecastCategory",
                "picklist",
                Lookup("StageName", STAGE_FORECAST, pa.string()),
                picklist=tuple(dict.fromkeys(STAGE_FORECAST)),
            ),
            Field(
                "ExpectedRevenue",
                "currency",
                Percentage("Amount", "Probability"),
                precision=18,
                scale=2,
                formula="Amount * Probability / 100",
            ),
            Field("Description", "textarea", Text(DESCRIPTIONS, 0.5, 0.02), length=32000),
        ]
    ),
    "Opportunity",
)

WIDGET = SObject(
    "Widget__c",
    "a01",
    tuple(
        system_fields()
        + [
            Field(
                "Name",
                "string",
                Text(("Widget", "Gadget", "Gizmo"), awkward=0.05, numbered=True),
                nillable=False,
                length=80,
            ),
            Field("Text__c", "string", Text(("alpha", "beta", "gamma"), 0.1, 0.2), length=255),
            Field("LongText__c", "textarea", Text(DESCRIPTIONS, 0.2, 0.1, long_every=50), length=32768),
            Field("Flag__c", "boolean", Flag(0.5)),
            Field("Count__c", "int", Integer(-1000, 1_000_000, 0.1)),
            Field("Ratio__c", "double", WideDouble(0.1), precision=18, scale=4),
            Field("Amount__c", "currency", Number(-(10**8), 10**11, 2, null=0.1, huge=BIG), precision=18, scale=2),
            Field("Percent__c", "percent", Number(0, 10000, 2, as_float=True, null=0.1), precision=5, scale=2),
            Field("Day__c", "date", Moment("date", 36500, 0.1, edges=True)),
            Field("Stamp__c", "datetime", Moment("datetime", 3650, 0.1, edges=True, millis=True)),
            Field("Clock__c", "time", Moment("time", millis=True)),
            pick("Color__c", ("Red", "Green", "Blue", "Ünïcode"), 0.1),
            Field("Tags__c", "multipicklist", Text(("A", "A;B", "B;C", "A;B;C"), 0.2), picklist=("A", "B", "C")),
            ref("Account__c", "Account", "Account__r", 0.2),
            Field("Email__c", "email", Pattern("widget+", "@example.org", 0.2)),
            Field("Phone__c", "phone", Text(PHONES, 0.2), length=40),
            Field("Url__c", "url", Pattern("https://widgets.example/", "?q=1,2", 0.2)),
            *address("Ship"),
            Field(
                "Location__Latitude__s",
                "double",
                Number(-90_000000, 90_000000, 6, True, 0.1),
                precision=18,
                scale=15,
                compound_field_name="Location__c",
            ),
            Field(
                "Location__Longitude__s",
                "double",
                Number(-180_000000, 180_000000, 6, True, 0.1),
                precision=18,
                scale=15,
                compound_field_name="Location__c",
            ),
            Field(
                "Location__c",
                "location",
                components=("Location__Latitude__s", "Location__Longitude__s"),
                updateable=False,
            ),
            Field(
                "Score__c",
                "currency",
                Percentage("Amount__c", "Percent__c"),
                precision=18,
                scale=2,
                formula="Amount__c * Percent__c / 100",
            ),
            Field("Legacy__c", "string", Text(("old",), 0.5), deprecated=True),
            Field("Blob__c", "base64", Blob(), length=32000),
        ]
    ),
    "Widget",
)

OBJECTS: dict[str, SObject] = {o.name.lower(): o for o in (ACCOUNT, CONTACT, OPPORTUNITY, WIDGET)}
DEFAULT_ROWS = {"Account": 2000, "Contact": 5000, "Opportunity": 10000, "Widget__c": 1000}
