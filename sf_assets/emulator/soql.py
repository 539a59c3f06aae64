"""A small SOQL parser: the subset the pipeline and the tests use."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
""", re.VERBOSE)
KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "in",
    "like",
    "limit",
    "order",
    "by",
    "group",
    "offset",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "null",
    "true",
    "false",
    "having",
    "includes",
    "excludes",
}
ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "%": "\\%",
    "_": "\\_",
}


class SoqlError(Exception):
    """A query Salesforce would reject: ``code`` is the errorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Literal:
    value: Any
    kind: str  # string | number | bool | null | date | datetime


@dataclass(frozen=True)
class Compare:
    field: str
    op: str  # = != < <= > >= in notin like
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or | not
    args: tuple[Node, ...]


Node = Compare | BoolOp


@dataclass
class Query:
    """Parsed SELECT statement."""

    fields: list[str]
    object: str
    where: Node | None = None
    limit: int | None = None
    order_by: list[str] = field(default_factory=list)
    count: bool = False
    unsupported_in_bulk: list[str] = field(default_factory=list)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text[pos:pos + 20]}'")
        pos = m.end()
        if m.lastgroup != "ws":
            kind, value = m.lastgroup or "", m.group()
            if kind == "name" and value.lower() in KEYWORDS:
                kind, value = "kw", value.lower()
            out.append((kind, value))
    return out


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), raw[1:-1])


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        i = self.pos + offset
        return self.toks[i] if i < len(self.toks) else ("eof", "")

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        k, v = self.peek()
        if (kind and k != kind) or (value and v.lower() != value):
            got = v or "end of query"
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{got}'")
        self.pos += 1
        return v

    def accept(self, value: str) -> bool:
        if self.peek()[1].lower() == value and self.peek()[0] in ("kw", "punct", "op", "name"):
            self.pos += 1
            return True
        return False

    def query(self) -> Query:
        self.take("kw", "select")
        q = Query([], "")
        while True:
            k, v = self.peek()
            if k == "punct" and v == "(":
                depth = 0
                while True:
                    tk = self.take()
                    depth += tk == "("
                    depth -= tk == ")"
                    if depth == 0:
                        break
                q.unsupported_in_bulk.append("parent-to-child subquery")
            elif k == "name" and self.peek(1) == ("punct", "("):
                self.pos += 2
                args = []
                while self.peek() != ("punct", ")"):
                    args.append(self.take())
                self.take("punct", ")")
                if v.lower() == "count" and not args:
                    q.count = True
                else:
                    raise SoqlError("MALFORMED_QUERY", f"function {v}() is not supported by this org")
            else:
                q.fields.append(self.take("name"))
            if not self.accept(","):
                break
        self.take("kw", "from")
        q.object = self.take("name")
        if self.accept("where"):
            q.where = self.or_expr()
        if self.accept("group"):
            self.take("kw", "by")
            self.take("name")
            q.unsupported_in_bulk.append("GROUP BY")
        if self.accept("order"):
            self.take("kw", "by")
            q.order_by.append(self.take("name"))
            for word in ("asc", "desc"):
                if self.accept(word) and word == "desc":
                    raise SoqlError("MALFORMED_QUERY", "only ORDER BY Id ASC is supported by this org")
        if self.accept("limit"):
            q.limit = int(self.take("number"))
        if self.accept("offset"):
            self.take("number")
            q.unsupported_in_bulk.append("OFFSET")
        if self.peek()[0] != "eof":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{self.peek()[1]}'")
        if q.count and q.fields:
            raise SoqlError("MALFORMED_QUERY", "COUNT() cannot be combined with other fields")
        return q

    def or_expr(self) -> Node:
        args = [self.and_expr()]
        while self.accept("or"):
            args.append(self.and_expr())
        return args[0] if len(args) == 1 else BoolOp("or", tuple(args))

    def and_expr(self) -> Node:
        args = [self.not_expr()]
        while self.accept("and"):
            args.append(self.not_expr())
        return args[0] if len(args) == 1 else BoolOp("and", tuple(args))

    def not_expr(self) -> Node:
        if self.accept("not"):
            return BoolOp("not", (self.not_expr(),))
        if self.accept("("):
            node = self.or_expr()
            self.take("punct", ")")
            return node
        return self.compare()

    def compare(self) -> Compare:
        name = self.take("name")
        if self.accept("not"):
            self.take("kw", "in")
            return Compare(name, "notin", self.values())
        if self.accept("in"):
            return Compare(name, "in", self.values())
        if self.accept("like"):
            return Compare(name, "like", self.literal())
        op = self.take("op")
        return Compare(name, "!=" if op == "<>" else op, self.literal())

    def values(self) -> tuple[Literal, ...]:
        self.take("punct", "(")
        out = [self.literal()]
        while self.accept(","):
            out.append(self.literal())
        self.take("punct", ")")
        return tuple(out)

    def literal(self) -> Literal:
        kind, raw = self.peek()
        self.pos += 1
        if kind == "string":
            return Literal(_unquote(raw), "string")
        if kind == "number":
            return Literal(float(raw), "number")
        if kind == "date":
            return Literal(dt.date.fromisoformat(raw), "date")
        if kind == "datetime":
            return Literal(dt.datetime.fromisoformat(raw.replace("Z", "+00:00")), "datetime")
        if kind == "kw" and raw in ("true", "false"):
            return Literal(raw == "true", "bool")
        if kind == "kw" and raw == "null":
            return Literal(None, "null")
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{raw or 'end of query'}'")


def parse(text: str) -> Query:
    """Parse a SOQL SELECT; raise SoqlError(MALFORMED_QUERY) on syntax errors."""
    return _Parser(text).query()
