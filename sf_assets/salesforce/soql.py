"""Parse configured SOQL and compose the SOQL sent to Bulk API 2.0.

Only what a Bulk query job can extract is accepted: one ``SELECT <fields|*> FROM <object>
[WHERE <condition>]``. The WHERE text is kept verbatim (Salesforce evaluates it), but it is
tokenized and parsed so that every identifier in it is known to be a plain field path, and so
that nothing (a second statement, a subquery, LIMIT, ...) hides behind it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sf_assets.schema.field_plan import FieldPlan

FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
OBJECT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))?)(?![\w.])
    |(?P<number>[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])
    |(?P<daten>[A-Za-z_]\w*:[+-]?\d+)(?![\w.:])
    |(?P<ident>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?![\w.:])
    |(?P<op><=|>=|!=|<>|=|<|>)
    |(?P<punct>[(),*])
    """,
    re.VERBOSE | re.DOTALL | re.ASCII,
)

_WORD_RE = re.compile(r"[\w.*:+-]+", re.ASCII)
_CLAUSES = {"LIMIT", "OFFSET", "HAVING", "WITH", "FOR", "USING", "UPDATE", "TYPEOF"}
_PAIRED_CLAUSES = {"ORDER", "GROUP"}  # rejected when followed by BY
_LIST_OPERATORS = {"IN", "INCLUDES", "EXCLUDES"}
_VALUE_WORDS = {"NULL", "TRUE", "FALSE"}
_RESERVED = {"AND", "OR", "NOT", "LIKE", "SELECT", "FROM", "WHERE"} | _LIST_OPERATORS | _VALUE_WORDS
_DATE_FUNCTIONS = {
    "CALENDAR_MONTH", "CALENDAR_QUARTER", "CALENDAR_YEAR", "DAY_IN_MONTH", "DAY_IN_WEEK",
    "DAY_IN_YEAR", "DAY_ONLY", "FISCAL_MONTH", "FISCAL_QUARTER", "FISCAL_YEAR", "HOUR_IN_DAY",
    "WEEK_IN_MONTH", "WEEK_IN_YEAR", "CONVERTTIMEZONE",
}
_DATE_LITERALS = {
    "YESTERDAY", "TODAY", "TOMORROW", "LAST_WEEK", "THIS_WEEK", "NEXT_WEEK", "LAST_MONTH",
    "THIS_MONTH", "NEXT_MONTH", "LAST_90_DAYS", "NEXT_90_DAYS", "THIS_QUARTER", "LAST_QUARTER",
    "NEXT_QUARTER", "THIS_YEAR", "LAST_YEAR", "NEXT_YEAR", "THIS_FISCAL_QUARTER",
    "LAST_FISCAL_QUARTER", "NEXT_FISCAL_QUARTER", "THIS_FISCAL_YEAR", "LAST_FISCAL_YEAR",
    "NEXT_FISCAL_YEAR",
}
_DATE_N_LITERAL_RE = re.compile(
    r"^(LAST|NEXT)_N_(DAYS|WEEKS|MONTHS|QUARTERS|YEARS|FISCAL_QUARTERS|FISCAL_YEARS)$"
    r"|^N_(DAYS|WEEKS|MONTHS|QUARTERS|YEARS|FISCAL_QUARTERS|FISCAL_YEARS)_AGO$"
)
_CURRENCY_VALUE_RE = re.compile(r"^[A-Z]{3}\d+(?:\.\d+)?$")


class SoqlError(ValueError):
    """A SOQL text that the pipeline cannot or will not run."""


@dataclass(frozen=True)
class SoqlQuery:
    """A parsed ``SELECT ... FROM ... [WHERE ...]``; ``where_fields``: field paths in the WHERE."""

    fields: tuple[str, ...]
    object_name: str
    where: str | None = None
    where_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int

    def word(self) -> str:
        """Upper-cased text for identifiers (keywords are case-insensitive), '' otherwise."""
        return self.text.upper() if self.kind == "ident" else ""


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            char = text[pos]
            if char == ";":
                raise SoqlError("only a single SELECT statement is allowed (found ';')")
            if char == ":":
                raise SoqlError(f"bind variables are not supported (position {pos})")
            if char == "'":
                raise SoqlError(f"unterminated string literal at position {pos}")
            word = _WORD_RE.match(text, pos)
            if word:
                raise SoqlError(f"malformed token {word.group()!r} at position {pos}")
            raise SoqlError(f"unexpected character {char!r} at position {pos}")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, m.group(), m.start(), m.end()))
        pos = m.end()
    return tokens


def _check_identifier(name: str, what: str, pattern: re.Pattern[str] = FIELD_RE) -> str:
    if not isinstance(name, str) or not pattern.match(name):
        raise SoqlError(f"invalid {what} {name!r}")
    return name


def _reject_clauses(tokens: Sequence[_Token]) -> None:
    for i, tok in enumerate(tokens):
        word = tok.word()
        if word == "SELECT":
            raise SoqlError("subqueries are not supported")
        if word in _CLAUSES:
            raise SoqlError(f"{word} is not supported")
        if word in _PAIRED_CLAUSES and i + 1 < len(tokens) and tokens[i + 1].word() == "BY":
            raise SoqlError(f"{word} BY is not supported")


class _WhereParser:
    """Recursive-descent check of a WHERE condition; collects the field paths it uses."""

    def __init__(self, tokens: Sequence[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.fields: list[str] = []

    def parse(self) -> tuple[str, ...]:
        if not self.tokens:
            raise SoqlError("empty WHERE clause")
        self._expression()
        if self.pos < len(self.tokens):
            raise SoqlError(f"unexpected {self.tokens[self.pos].text!r} in WHERE")
        return tuple(dict.fromkeys(self.fields))

    def _peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _next(self, expected: str) -> _Token:
        tok = self._peek()
        if tok is None:
            raise SoqlError(f"WHERE ends early: expected {expected}")
        self.pos += 1
        return tok

    def _expect_punct(self, char: str) -> None:
        tok = self._next(repr(char))
        if tok.text != char:
            raise SoqlError(f"expected {char!r} in WHERE, found {tok.text!r}")

    def _expression(self) -> None:
        self._term()
        while (tok := self._peek()) is not None and tok.word() in {"AND", "OR"}:
            self.pos += 1
            self._term()

    def _term(self) -> None:
        tok = self._next("a condition")
        if tok.word() == "NOT":
            self._term()
        elif tok.text == "(":
            self._expression()
            self._expect_punct(")")
        else:
            self.pos -= 1
            self._comparison()

    def _comparison(self) -> None:
        self._field_expression()
        tok = self._next("a comparison operator")
        word = tok.word()
        if word == "NOT":
            tok = self._next("IN")
            word = tok.word()
            if word != "IN":
                raise SoqlError(f"expected IN after NOT in WHERE, found {tok.text!r}")
        if tok.kind == "op" or word == "LIKE":
            self._value()
        elif word in _LIST_OPERATORS:
            self._expect_punct("(")
            self._value()
            while (nxt := self._peek()) is not None and nxt.text == ",":
                self.pos += 1
                self._value()
            self._expect_punct(")")
        else:
            raise SoqlError(f"expected a comparison operator in WHERE, found {tok.text!r}")

    def _field_expression(self) -> None:
        tok = self._next("a field")
        nxt = self._peek()
        if tok.kind == "ident" and nxt is not None and nxt.text == "(":
            if tok.word() not in _DATE_FUNCTIONS:
                raise SoqlError(f"function {tok.text}() is not supported in WHERE")
            self.pos += 1
            self._field_expression()
            self._expect_punct(")")
            return
        if tok.kind != "ident" or tok.word() in _RESERVED:
            raise SoqlError(f"expected a field in WHERE, found {tok.text!r}")
        self.fields.append(_check_identifier(tok.text, "field in WHERE"))

    def _value(self) -> None:
        tok = self._next("a value")
        if tok.kind in {"string", "number", "datetime"}:
            return
        word = tok.text.upper()
        if tok.kind == "daten" and _DATE_N_LITERAL_RE.match(word.split(":")[0]):
            return
        if tok.kind == "ident" and (
            word in _VALUE_WORDS or word in _DATE_LITERALS or _CURRENCY_VALUE_RE.match(tok.text)
        ):
            return
        raise SoqlError(f"{tok.text!r} is not a valid value in WHERE")


def _parse_where(text: str) -> tuple[str, ...]:
    tokens = _tokenize(text)
    _reject_clauses(tokens)
    return _WhereParser(tokens).parse()


def _select_list(tokens: Sequence[_Token]) -> tuple[tuple[str, ...], int]:
    """Parse the fields after SELECT; return them and the index of the FROM token."""
    if tokens and tokens[0].text == "*":
        if len(tokens) == 1:
            raise SoqlError("query has no FROM clause")
        if tokens[1].word() != "FROM":
            raise SoqlError("SELECT * cannot be combined with other fields")
        return ("*",), 1
    fields: list[str] = []
    i = 0
    while True:
        tok = tokens[i] if i < len(tokens) else None
        if tok is None:
            raise SoqlError("query has no FROM clause")
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        word = tok.word()
        if tok.text == "(":
            raise SoqlError("subqueries are not supported")
        if word == "TYPEOF":
            raise SoqlError("TYPEOF is not supported")
        if nxt is not None and nxt.text == "(":
            if word in {"COUNT", "FIELDS"}:
                raise SoqlError(f"{word}() is not supported")
            raise SoqlError(f"function {tok.text}() is not supported in the SELECT list")
        if word == "FROM":
            raise SoqlError("empty SELECT list" if not fields else "trailing ',' in SELECT list")
        if tok.kind != "ident":
            raise SoqlError(f"expected a field in SELECT list, found {tok.text!r}")
        fields.append(_check_identifier(tok.text, "field"))
        if nxt is None:
            raise SoqlError("query has no FROM clause")
        if nxt.word() == "FROM":
            return tuple(fields), i + 1
        if nxt.text != ",":
            raise SoqlError(f"expected ',' or FROM after {tok.text!r}, found {nxt.text!r}")
        i += 2


def parse_soql(text: str) -> SoqlQuery:
    """Parse ``SELECT <fields|*> FROM <object> [WHERE ...]``; raise SoqlError otherwise."""
    tokens = _tokenize(text)
    if not tokens:
        raise SoqlError("empty query")
    if tokens[0].word() != "SELECT":
        raise SoqlError(f"query must start with SELECT, found {tokens[0].text!r}")
    fields, from_index = _select_list(tokens[1:])
    rest = tokens[from_index + 2 :]
    if not rest:
        raise SoqlError("FROM has no object name")
    obj = rest[0]
    if obj.text == "(":
        raise SoqlError("subqueries are not supported")
    object_name = _check_identifier(obj.text, "object name", OBJECT_RE)
    _reject_clauses(rest[1:])
    if len(rest) == 1:
        return SoqlQuery(fields, object_name)
    if rest[1].text == ",":
        raise SoqlError("only one object may follow FROM")
    if rest[1].word() != "WHERE":
        raise SoqlError(f"unexpected {rest[1].text!r} after FROM {object_name}")
    where_tokens = rest[2:]
    where_fields = _WhereParser(where_tokens).parse()
    where = text[where_tokens[0].start : where_tokens[-1].end]
    return SoqlQuery(fields, object_name, where, where_fields)


def _id_literal(value: str, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        raise SoqlError(f"{what} {value!r} is not a 15- or 18-character Salesforce Id")
    return f"'{value}'"


def _where_clause(where: str | None, extra: Sequence[str] = ()) -> str:
    parts = []
    if where is not None and where.strip():
        _parse_where(where)
        parts.append(f"({where.strip()})" if extra else where.strip())
    parts.extend(extra)
    return f" WHERE {' AND '.join(parts)}" if parts else ""


def compose_extraction_soql(
    fields: Sequence[str],
    object_name: str,
    where: str | None = None,
    id_lo: str | None = None,
    id_hi: str | None = None,
) -> str:
    """SOQL for one Id range: ``(<where>) AND Id >= 'lo' AND Id < 'hi'`` (open ends omitted)."""
    if isinstance(fields, str) or not fields:
        raise SoqlError("at least one field is required")
    names = [_check_identifier(f, "field") for f in fields]
    _check_identifier(object_name, "object name", OBJECT_RE)
    bounds = []
    if id_lo is not None:
        bounds.append(f"Id >= {_id_literal(id_lo, 'lower Id bound')}")
    if id_hi is not None:
        bounds.append(f"Id < {_id_literal(id_hi, 'upper Id bound')}")
    return f"SELECT {', '.join(names)} FROM {object_name}{_where_clause(where, bounds)}"


def compose_count_soql(object_name: str, where: str | None = None, extra: Sequence[str] = ()) -> str:
    """``SELECT COUNT() FROM <object> [WHERE (<where>) AND <extra>...]`` (REST query, not Bulk)."""
    _check_identifier(object_name, "object name", OBJECT_RE)
    return f"SELECT COUNT() FROM {object_name}{_where_clause(where, extra)}"


def plan_soql(plan: FieldPlan, id_lo: str | None = None, id_hi: str | None = None) -> str:
    """Bulk SOQL of a field plan for the Id range [id_lo, id_hi) (either end may be open)."""
    return compose_extraction_soql(plan.query_column_names, plan.object_name, plan.where, id_lo, id_hi)
