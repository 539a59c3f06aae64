"""SOQL parsing and composition: accepted shapes, rejected shapes, injection attempts."""

import re

import pytest

from sf_assets.salesforce.soql import (
    SoqlError,
    SoqlQuery,
    compose_count_soql,
    compose_extraction_soql,
    parse_soql,
)

LO, HI = "006000000000001AAA", "00600000000000zAAA"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT Id FROM Account", SoqlQuery(("Id",), "Account")),
        ("select id , name from account", SoqlQuery(("id", "name"), "account")),
        ("SELECT * FROM Account", SoqlQuery(("*",), "Account")),
        ("  SELECT\n*\nFROM\tContact  ", SoqlQuery(("*",), "Contact")),
        (
            "SELECT Id, Account.Name, Owner.Manager.Email, Custom__c, ns__F__c FROM Opportunity",
            SoqlQuery(
                ("Id", "Account.Name", "Owner.Manager.Email", "Custom__c", "ns__F__c"),
                "Opportunity",
            ),
        ),
        ("SELECT Id FROM Order", SoqlQuery(("Id",), "Order")),
        (
            "SELECT Id FROM Account WHERE Name = 'Acme'",
            SoqlQuery(("Id",), "Account", "Name = 'Acme'", ("Name",)),
        ),
    ],
)
def test_parse_accepts(text: str, expected: SoqlQuery) -> None:
    assert parse_soql(text) == expected


@pytest.mark.parametrize(
    ("where", "fields"),
    [
        ("Name = 'O\\'Brien LIMIT 5; DROP'", ("Name",)),
        ("Name LIKE 'ORDER BY %' AND IsDeleted = false", ("Name", "IsDeleted")),
        ("(Amount > -2.5E3 OR Amount = null) AND NOT StageName IN ('A', 'B')",
         ("Amount", "StageName")),
        ("Type NOT IN ('x') AND Tags__c INCLUDES ('a;b') AND Tags__c EXCLUDES ('c')",
         ("Type", "Tags__c")),
        ("CloseDate >= LAST_N_DAYS:30 AND CreatedDate < TODAY AND CloseDate = 2024-01-31",
         ("CloseDate", "CreatedDate")),
        ("LastModifiedDate > 2024-09-24T03:26:07.000Z AND SystemModstamp <= 2024-09-24T03:26:07+01:00",
         ("LastModifiedDate", "SystemModstamp")),
        ("CALENDAR_YEAR(convertTimezone(CreatedDate)) = 2024", ("CreatedDate",)),
        ("Account.Owner.IsActive = TRUE AND Amount != USD5000", ("Account.Owner.IsActive", "Amount")),
        ("Name <> 'where' AND Name = 'select'", ("Name",)),
    ],
)
def test_where_kept_verbatim_and_fields_collected(where: str, fields: tuple[str, ...]) -> None:
    query = parse_soql(f"SELECT Id FROM Opportunity WHERE {where}  ")
    assert query.where == where
    assert query.where_fields == fields


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty query"),
        ("UPDATE Account SET Name = 'x'", "must start with SELECT"),
        ("SELECT Id FROM Account LIMIT 10", "LIMIT is not supported"),
        ("SELECT Id FROM Account WHERE Name = 'a' limit 10", "LIMIT is not supported"),
        ("SELECT Id FROM Account OFFSET 10", "OFFSET is not supported"),
        ("SELECT Id FROM Account ORDER BY Name", "ORDER BY is not supported"),
        ("SELECT Id FROM Account WHERE Name = 'a' Order By Name", "ORDER BY is not supported"),
        ("SELECT Name FROM Account GROUP BY Name", "GROUP BY is not supported"),
        ("SELECT Id FROM Account WITH SECURITY_ENFORCED", "WITH is not supported"),
        ("SELECT Id FROM Account FOR UPDATE", "FOR is not supported"),
        ("SELECT COUNT() FROM Account", "COUNT() is not supported"),
        ("SELECT count(Id) FROM Account", "COUNT() is not supported"),
        ("SELECT FIELDS(ALL) FROM Account", "FIELDS() is not supported"),
        ("SELECT toLabel(Status) FROM Case", "function toLabel() is not supported"),
        ("SELECT TYPEOF What WHEN Account THEN Name END FROM Event", "TYPEOF is not supported"),
        ("SELECT Id, (SELECT Id FROM Contacts) FROM Account", "subqueries are not supported"),
        ("SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)",
         "subqueries are not supported"),
        ("SELECT Id FROM Account; SELECT Id FROM Contact", "single SELECT"),
        ("SELECT Id FROM Account WHERE Name = 'x'; DELETE", "single SELECT"),
        ("SELECT Name; DROP FROM Account", "single SELECT"),
        ("SELECT Id FROM Account, Contact", "only one object"),
        ("SELECT Id FROM Account a", "unexpected 'a' after FROM Account"),
        ("SELECT Id Name FROM Account", "expected ',' or FROM"),
        ("SELECT Id, FROM Account", "trailing ','"),
        ("SELECT FROM Account", "empty SELECT list"),
        ("SELECT Id", "no FROM clause"),
        ("SELECT Id FROM", "no object name"),
        ("SELECT *", "no FROM clause"),
        ("SELECT * FROM", "no object name"),
        ("SELECT *, Id FROM Account", "SELECT * cannot be combined"),
        ("SELECT \"Name\" FROM Account", "unexpected character '\"'"),
        ("SELECT `Name` FROM Account", "unexpected character '`'"),
        ("SELECT Id FROM Account WHERE Name = 'unterminated", "unterminated string"),
        ("SELECT Id FROM Account WHERE", "empty WHERE"),
        ("SELECT Id FROM Account WHERE Name =", "WHERE ends early"),
        ("SELECT Id FROM Account WHERE Name = :bind", "bind variables are not supported"),
        ("SELECT Id FROM Account WHERE Name = OtherField__c", "not a valid value"),
        ("SELECT Id FROM Account WHERE 'x' = Name", "expected a field"),
        ("SELECT Id FROM Account WHERE Name = 'a' Name = 'b'", "unexpected 'Name'"),
        ("SELECT Id FROM Account WHERE (Name = 'a'", "expected ')'"),
        ("SELECT Id FROM Account WHERE DISTANCE(Loc__c, GEOLOCATION(1,2), 'mi') < 5",
         "function DISTANCE() is not supported"),
        ("SELECT Id FROM Account WHERE Name = 'a' OR 1 = 1", "expected a field"),
        ("SELECT _Id FROM Account", "invalid field '_Id'"),
        ("SELECT Account.* FROM Opportunity", "malformed token 'Account.*' at position 7"),
        ("SELECT Account. FROM Opportunity", "malformed token 'Account.' at position 7"),
        ("SELECT Id FROM Account WHERE Amount > 5.", "malformed token '5.'"),
        ("SELECT Id FROM Account WHERE Name = 'it''s'", "unexpected \"'s'\" in WHERE"),
    ],
)
def test_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(SoqlError, match=re.escape(message)):
        parse_soql(text)


def test_error_is_value_error_with_one_line() -> None:
    with pytest.raises(ValueError) as info:
        parse_soql("SELECT Id FROM Account LIMIT 1")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("where", "lo", "hi", "expected_tail"),
    [
        (None, None, None, ""),
        (None, LO, None, f" WHERE Id >= '{LO}'"),
        (None, None, HI, f" WHERE Id < '{HI}'"),
        (None, LO, HI, f" WHERE Id >= '{LO}' AND Id < '{HI}'"),
        ("Name = 'a' OR Name = 'b'", None, None, " WHERE Name = 'a' OR Name = 'b'"),
        ("Name = 'a' OR Name = 'b'", LO, HI,
         f" WHERE (Name = 'a' OR Name = 'b') AND Id >= '{LO}' AND Id < '{HI}'"),
        ("IsDeleted = false", "006000000000001", None,
         " WHERE (IsDeleted = false) AND Id >= '006000000000001'"),
    ],
)
def test_compose_extraction_soql(
    where: str | None, lo: str | None, hi: str | None, expected_tail: str
) -> None:
    soql = compose_extraction_soql(["Id", "Account.Name"], "Opportunity", where, lo, hi)
    assert soql == f"SELECT Id, Account.Name FROM Opportunity{expected_tail}"
    assert parse_soql(soql).fields == ("Id", "Account.Name")  # the composed text parses back


@pytest.mark.parametrize(
    ("fields", "object_name", "where", "lo", "hi", "message"),
    [
        (["Name; DROP"], "Account", None, None, None, "invalid field"),
        (["Name'"], "Account", None, None, None, "invalid field"),
        (["Name FROM User --"], "Account", None, None, None, "invalid field"),
        (["*"], "Account", None, None, None, "invalid field"),
        (["Account..Name"], "Account", None, None, None, "invalid field"),
        ([], "Account", None, None, None, "at least one field"),
        ("Id", "Account", None, None, None, "at least one field"),
        (["Id"], "Account.Name", None, None, None, "invalid object name"),
        (["Id"], "Account WHERE", None, None, None, "invalid object name"),
        (["Id"], "Account", None, "' OR Id != '", None, "lower Id bound"),
        (["Id"], "Account", None, None, "001' OR Name != '", "upper Id bound"),
        (["Id"], "Account", None, "0010000000001", None, "lower Id bound"),
        (["Id"], "Account", None, "001000000000001AA", None, "lower Id bound"),
        (["Id"], "Account", "Name = 'a') OR (Name != 'b'", None, None, "unexpected"),
        (["Id"], "Account", "Name = 'a' LIMIT 1", None, None, "LIMIT is not supported"),
        (["Id"], "Account", "Name = 'a'; DELETE", None, None, "single SELECT"),
    ],
)
def test_compose_extraction_soql_rejects(
    fields: list[str], object_name: str, where: str | None, lo: str | None, hi: str | None,
    message: str,
) -> None:
    with pytest.raises(SoqlError, match=message):
        compose_extraction_soql(fields, object_name, where, lo, hi)


@pytest.mark.parametrize(
    ("object_name", "where", "expected"),
    [
        ("Account", None, "SELECT COUNT() FROM Account"),
        ("Account", "Name = 'a'", "SELECT COUNT() FROM Account WHERE Name = 'a'"),
    ],
)
def test_compose_count_soql(object_name: str, where: str | None, expected: str) -> None:
    assert compose_count_soql(object_name, where) == expected


def test_compose_count_soql_rejects_bad_object() -> None:
    with pytest.raises(SoqlError, match="invalid object name"):
        compose_count_soql("Account; DROP")
