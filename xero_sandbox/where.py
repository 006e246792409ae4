"""A small evaluator for Xero's `where=` filters, applied to the JSON shapes.

Supported: `Field=="text"`, `Field!="text"`, `A.B==guid("…")`, numbers, true/false,
`Date>=DateTime(2024,01,31)` (and >, <, <=), `Name.Contains("x")`, `.StartsWith`,
`.EndsWith`, `AND`, `OR`, `NOT`, `&&`, `||` and parentheses. Anything else → WhereError
(the API answers 400 like Xero does for a filter it cannot parse).

A string literal cannot hold a double quote, escaped or not: `\"` and `""` are syntax errors,
as Xero answers them (400 QueryParseException "Syntax error": XeroAPI/Xero-Java#347,
waynerobinson/xeroizer#160). A backslash is an ordinary character."""
import re
from datetime import date, datetime

from .formats import parse_date

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>"[^"]*")
    | (?P<op>==|!=|>=|<=|=|>|<|&&|\|\|)
    | (?P<punct>[(),.])
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""", re.X)


class WhereError(ValueError):
    pass


def _tokens(text):
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise WhereError("Syntax error")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "word" and value.upper() in {"AND", "OR", "NOT"}:
            kind, value = "op", value.upper()
        out.append((kind, value))
    return out


class _Parser:
    def __init__(self, text):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None or (value is not None and tok[1] != value):
            raise WhereError(f"Expected {value or 'more'} in where clause")
        self.i += 1
        return tok

    def parse(self):
        node = self.expr()
        if self.i != len(self.toks):
            raise WhereError("Syntax error")
        return node

    def expr(self):
        node = self.term()
        while self.peek()[1] in {"OR", "||"}:
            self.take()
            node = ("or", node, self.term())
        return node

    def term(self):
        node = self.factor()
        while self.peek()[1] in {"AND", "&&"}:
            self.take()
            node = ("and", node, self.factor())
        return node

    def factor(self):
        kind, value = self.peek()
        if value == "(":
            self.take("(")
            node = self.expr()
            self.take(")")
            return node
        if value == "NOT":
            self.take()
            return ("not", self.factor())
        if kind != "word":
            raise WhereError("Expected a field name in where clause")
        path = [self.take()[1]]
        method = None
        while self.peek()[1] == ".":
            self.take(".")
            name = self.take()[1]
            if self.peek()[1] == "(":
                method = name
                break
            path.append(name)
        if method:
            self.take("(")
            arg = self.value()
            self.take(")")
            return ("method", path, method.lower(), arg)
        kind, op = self.peek()
        if kind == "op" and op in {"==", "=", "!=", ">=", "<=", ">", "<"}:
            self.take()
            return ("cmp", path, "==" if op == "=" else op, self.value())
        return ("cmp", path, "==", True)

    def value(self):
        kind, value = self.take()
        if kind == "str":
            return value[1:-1]
        if kind == "num":
            return float(value)
        if kind == "word":
            low = value.lower()
            if low in {"true", "false"}:
                return low == "true"
            if low == "null":
                return None
            if low == "guid":
                self.take("(")
                inner = self.value()
                self.take(")")
                return str(inner).lower()
            if low in {"datetime", "date"}:
                self.take("(")
                parts = [int(self.value())]
                while self.peek()[1] == ",":
                    self.take(",")
                    parts.append(int(self.value()))
                self.take(")")
                return date(*parts[:3]) if len(parts) <= 3 else datetime(*parts).date()
        raise WhereError(f"Unexpected value {value!r} in where clause")


def _lookup(item, path):
    value = item
    for name in path:
        if isinstance(value, dict):
            match = next((k for k in value if k.lower() == name.lower()), None)
            value = value.get(match) if match else None
        else:
            return None
    return value


def _coerce(actual, expected):
    if isinstance(expected, date):
        try:
            return parse_date(actual) if actual else None
        except ValueError:
            return None
    if isinstance(expected, float) and isinstance(actual, (int, float)):
        return float(actual)
    if isinstance(expected, str) and isinstance(actual, str) and _looks_like_guid(expected):
        return actual.lower()
    return actual


def _looks_like_guid(text):
    return len(text) == 36 and text.count("-") == 4


def _eval(node, item):
    op = node[0]
    if op == "or":
        return _eval(node[1], item) or _eval(node[2], item)
    if op == "and":
        return _eval(node[1], item) and _eval(node[2], item)
    if op == "not":
        return not _eval(node[1], item)
    if op == "method":
        _, path, method, arg = node
        actual = str(_lookup(item, path) or "").lower()
        arg = str(arg).lower()
        return {"contains": arg in actual, "startswith": actual.startswith(arg),
                "endswith": actual.endswith(arg)}.get(method, False)
    _, path, cmp, expected = node
    actual = _coerce(_lookup(item, path), expected)
    if cmp == "==":
        return actual == expected
    if cmp == "!=":
        return actual != expected
    if actual is None or expected is None:
        return False
    try:
        return {">": actual > expected, "<": actual < expected, ">=": actual >= expected,
                "<=": actual <= expected}[cmp]
    except TypeError:
        return False


def compile_where(text):
    """A predicate over JSON items, or WhereError."""
    tree = _Parser(text).parse()
    return lambda item: _eval(tree, item)
