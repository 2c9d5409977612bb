"""A small GraphQL reader and executor for the dev-store simulator. Pure: no Django, no I/O.

It understands the part of the language the app sends: one or more operations (``query`` /
``mutation``, optionally named, with variables and defaults), fields with aliases and
arguments (variables, strings, numbers, booleans, null, enums, lists, input objects),
inline fragments (``... on Product``) and named fragments. Directives, subscriptions and
introspection are not supported; a query that uses them gets a GraphQL error, as a query
the real schema refuses would.

Objects are plain dicts: ``"__typename"`` names the type, ``"__interfaces"`` the interfaces
it implements, and a field's value may be a callable taking the field's arguments
(``collections(first: 25)``). The simulator builds those dicts; this module walks the
selection over them.

Requested cost follows Shopify's published rules closely enough to keep the app honest
(https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits): scalars and enums 0,
an object 1, a connection 2 plus ``first``/``last`` times the cost of one item, ``nodes(ids:)``
the cost of one node per id, a mutation 10. The actual cost counts what was returned.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_QUERY_COST = 1000
MUTATION_COST = 10


class GraphQLError(Exception):
    """An error reported in the response's ``errors`` (HTTP 200), Shopify style."""

    def __init__(self, message: str, *, code: str = "", line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.line = line
        self.column = column

    def as_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message}
        if self.line:
            error["locations"] = [{"line": self.line, "column": self.column}]
        if self.code:
            error["extensions"] = {"code": self.code}
        return error


# --- reading ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<skip>[\s,\ufeff]+|\#[^\n\r]*)
  | (?P<spread>\.\.\.)
  | (?P<punct>[!$():=@\[\]{}|&])
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
  | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<block>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\")
  | (?P<string>"(?:[^"\\\n\r]|\\(?:["\\/bfnrt]|u[0-9A-Fa-f]{4}))*")
    """,
    re.VERBOSE,
)
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "/": "/"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    line: int
    column: int


def _tokens(source: str) -> list[Token]:
    tokens: list[Token] = []
    position, line, line_start = 0, 1, 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise GraphQLError(
                f"Parse error on {source[position]!r}",
                code="parseError",
                line=line,
                column=position - line_start + 1,
            )
        kind = match.lastgroup or ""
        text = match.group()
        if kind != "skip":
            tokens.append(Token(kind, text, line, position - line_start + 1))
        newlines = text.count("\n")
        if newlines:
            line += newlines
            line_start = match.start() + text.rindex("\n") + 1
        position = match.end()
    tokens.append(Token("end", "", line, position - line_start + 1))
    return tokens


@dataclass(frozen=True)
class Variable:
    name: str


@dataclass(frozen=True)
class Enum:
    name: str


@dataclass
class Field:
    name: str
    alias: str
    arguments: dict[str, Any]
    selections: list[Any]
    line: int
    column: int

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class Fragment:
    type_condition: str | None
    selections: list[Any]


@dataclass
class Spread:
    name: str
    line: int
    column: int


@dataclass
class Operation:
    kind: str
    name: str | None
    defaults: dict[str, Any]
    selections: list[Any]


@dataclass
class Document:
    operations: list[Operation]
    fragments: dict[str, Fragment] = field(default_factory=dict)

    def operation(self, name: str | None) -> Operation:
        if name:
            for operation in self.operations:
                if operation.name == name:
                    return operation
            raise GraphQLError(f"No operation named {name!r}", code="operationNotFound")
        if len(self.operations) != 1:
            raise GraphQLError(
                "An operation name is required when the document has several",
                code="operationNameRequired",
            )
        return self.operations[0]


class _Reader:
    def __init__(self, source: str) -> None:
        self.tokens = _tokens(source)
        self.index = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self, kind: str | None = None, text: str | None = None) -> Token:
        token = self.peek
        if (kind and token.kind != kind) or (text is not None and token.text != text):
            wanted = text or kind
            got = token.text or "end of document"
            raise GraphQLError(
                f"Parse error on {got!r}: expected {wanted}",
                code="parseError",
                line=token.line,
                column=token.column,
            )
        self.index += 1
        return token

    def at(self, text: str) -> bool:
        return self.peek.kind in ("punct", "spread", "name") and self.peek.text == text

    def document(self) -> Document:
        document = Document(operations=[])
        while self.peek.kind != "end":
            if self.at("fragment"):
                self.take()
                name = self.take("name").text
                self.take("name", "on")
                condition = self.take("name").text
                document.fragments[name] = Fragment(condition, self.selection_set())
            elif self.at("{"):
                document.operations.append(Operation("query", None, {}, self.selection_set()))
            else:
                token = self.take("name")
                if token.text not in ("query", "mutation"):
                    raise GraphQLError(
                        f"{token.text!r} operations are not supported",
                        code="parseError",
                        line=token.line,
                        column=token.column,
                    )
                name = self.take("name").text if self.peek.kind == "name" else None
                defaults = self.variable_definitions() if self.at("(") else {}
                document.operations.append(
                    Operation(token.text, name, defaults, self.selection_set())
                )
        if not document.operations:
            raise GraphQLError("The document has no operation", code="parseError")
        return document

    def variable_definitions(self) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        self.take("punct", "(")
        while not self.at(")"):
            self.take("punct", "$")
            name = self.take("name").text
            self.take("punct", ":")
            self.type_reference()
            if self.at("="):
                self.take()
                defaults[name] = self.value(constant=True)
        self.take("punct", ")")
        return defaults

    def type_reference(self) -> None:
        if self.at("["):
            self.take()
            self.type_reference()
            self.take("punct", "]")
        else:
            self.take("name")
        if self.at("!"):
            self.take()

    def selection_set(self) -> list[Any]:
        self.take("punct", "{")
        selections: list[Any] = []
        while not self.at("}"):
            if self.at("@"):
                token = self.peek
                raise GraphQLError(
                    "Directives are not supported",
                    code="parseError",
                    line=token.line,
                    column=token.column,
                )
            if self.peek.kind == "spread":
                token = self.take()
                if self.at("on"):
                    self.take()
                    condition = self.take("name").text
                    selections.append(Fragment(condition, self.selection_set()))
                elif self.at("{"):
                    selections.append(Fragment(None, self.selection_set()))
                else:
                    selections.append(Spread(self.take("name").text, token.line, token.column))
                continue
            token = self.take("name")
            alias, name = "", token.text
            if self.at(":"):
                self.take()
                alias, name = name, self.take("name").text
            arguments: dict[str, Any] = {}
            if self.at("("):
                self.take()
                while not self.at(")"):
                    key = self.take("name").text
                    self.take("punct", ":")
                    arguments[key] = self.value(constant=False)
                self.take("punct", ")")
            children = self.selection_set() if self.at("{") else []
            selections.append(Field(name, alias, arguments, children, token.line, token.column))
        self.take("punct", "}")
        return selections

    def value(self, *, constant: bool) -> Any:
        token = self.peek
        if token.kind == "punct" and token.text == "$" and not constant:
            self.take()
            return Variable(self.take("name").text)
        if token.kind == "punct" and token.text == "[":
            self.take()
            items = []
            while not self.at("]"):
                items.append(self.value(constant=constant))
            self.take("punct", "]")
            return items
        if token.kind == "punct" and token.text == "{":
            self.take()
            obj = {}
            while not self.at("}"):
                key = self.take("name").text
                self.take("punct", ":")
                obj[key] = self.value(constant=constant)
            self.take("punct", "}")
            return obj
        self.take()
        if token.kind == "number":
            is_float = any(c in token.text for c in ".eE")
            return float(token.text) if is_float else int(token.text)
        if token.kind == "string":
            return re.sub(
                r"\\(u[0-9A-Fa-f]{4}|.)",
                lambda m: (
                    chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 5 else _ESCAPES[m.group(1)]
                ),
                token.text[1:-1],
            )
        if token.kind == "block":
            return token.text[3:-3].replace('\\"""', '"""')
        if token.kind == "name":
            return {"true": True, "false": False, "null": None}.get(token.text, Enum(token.text))
        raise GraphQLError(
            f"Parse error on {token.text!r}",
            code="parseError",
            line=token.line,
            column=token.column,
        )


def parse(source: str) -> Document:
    """Read a GraphQL document; raises ``GraphQLError`` (code ``parseError``) if it cannot."""
    if not isinstance(source, str) or not source.strip():
        raise GraphQLError("No query string was present", code="parseError")
    return _Reader(source).document()


# --- running ------------------------------------------------------------------------------


def resolve_values(value: Any, variables: Mapping[str, Any]) -> Any:
    """An argument with its variables substituted (enums become their names)."""
    if isinstance(value, Variable):
        return variables.get(value.name)
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, list):
        return [resolve_values(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: resolve_values(item, variables) for key, item in value.items()}
    return value


def _fields(
    selections: list[Any], obj: Mapping[str, Any] | None, fragments: Mapping[str, Fragment]
) -> Iterator[Field]:
    """The fields that apply to ``obj`` (every field when ``obj`` is None: for costing)."""
    for selection in selections:
        if isinstance(selection, Field):
            yield selection
            continue
        if isinstance(selection, Spread):
            fragment = fragments.get(selection.name)
            if fragment is None:
                raise GraphQLError(
                    f"Fragment {selection.name} was used, but not defined",
                    code="useAndDefineFragment",
                    line=selection.line,
                    column=selection.column,
                )
        else:
            fragment = selection
        condition = fragment.type_condition
        if obj is None or condition is None or _is_a(obj, condition):
            yield from _fields(fragment.selections, obj, fragments)


def _is_a(obj: Mapping[str, Any], type_name: str) -> bool:
    return obj.get("__typename") == type_name or type_name in obj.get("__interfaces", ())


Resolver = Callable[[dict[str, Any]], Any]


def execute(
    document: Document,
    *,
    root: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> dict[str, Any]:
    """Run one operation against ``root`` (a query or mutation root object)."""
    operation = document.operation(operation_name)
    values = {**operation.defaults, **(variables or {})}
    return _select(root, operation.selections, values, document.fragments, "root")


def _select(
    obj: Mapping[str, Any],
    selections: list[Any],
    variables: Mapping[str, Any],
    fragments: Mapping[str, Fragment],
    type_name: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for selected in _fields(selections, obj, fragments):
        if selected.name == "__typename":
            out[selected.key] = obj.get("__typename", type_name)
            continue
        if selected.name not in obj:
            raise GraphQLError(
                f"Field '{selected.name}' doesn't exist on type "
                f"'{obj.get('__typename', type_name)}'",
                code="undefinedField",
                line=selected.line,
                column=selected.column,
            )
        value = obj[selected.name]
        if callable(value):
            value = value(resolve_values(selected.arguments, variables))
        out[selected.key] = _complete(value, selected, variables, fragments)
    return out


def _complete(
    value: Any, selected: Field, variables: Mapping[str, Any], fragments: Mapping[str, Fragment]
) -> Any:
    if value is None or not selected.selections:
        return value
    if isinstance(value, list):
        return [_complete(item, selected, variables, fragments) for item in value]
    if isinstance(value, Mapping):
        return _select(value, selected.selections, variables, fragments, selected.name)
    raise GraphQLError(
        f"Selections can't be made on scalars (field '{selected.name}')",
        code="selectionMismatch",
        line=selected.line,
        column=selected.column,
    )


def _page_size(arguments: Mapping[str, Any], variables: Mapping[str, Any]) -> int | None:
    for key in ("first", "last"):
        if key in arguments:
            value = resolve_values(arguments[key], variables)
            return value if isinstance(value, int) else 0
    return None


def requested_cost(document: Document, *, variables: Mapping[str, Any] | None = None,
                   operation_name: str | None = None) -> int:  # fmt: skip
    """The cost Shopify would charge before running the operation (see the module's doc)."""
    operation = document.operation(operation_name)
    values = {**operation.defaults, **(variables or {})}
    cost = _selection_cost(operation.selections, values, document.fragments)
    return cost + (MUTATION_COST if operation.kind == "mutation" else 0)


def _selection_cost(
    selections: list[Any], variables: Mapping[str, Any], fragments: Mapping[str, Fragment]
) -> int:
    total = 0
    for selected in _fields(selections, None, fragments):
        if not selected.selections:
            continue
        inner = _selection_cost(selected.selections, variables, fragments)
        size = _page_size(selected.arguments, variables)
        if selected.name == "nodes" and "ids" in selected.arguments:
            ids = resolve_values(selected.arguments["ids"], variables)
            total += (len(ids) if isinstance(ids, list) else 1) * (1 + inner)
        elif size is not None:
            # A connection: its items' selections (nodes / edges) count once per item.
            per_item = sum(
                1 + _selection_cost(child.selections, variables, fragments)
                for child in _fields(selected.selections, None, fragments)
                if child.name in ("nodes", "edges") and child.selections
            )
            rest = inner - per_item
            total += 2 + size * per_item + rest
        else:
            total += 1 + inner
    return total


def actual_cost(data: Any) -> int:
    """What was returned: 1 per object, connections' own 2 included via their pageInfo."""
    if isinstance(data, list):
        return sum(actual_cost(item) for item in data)
    if isinstance(data, dict):
        return 1 + sum(actual_cost(value) for value in data.values())
    return 0


# --- helpers for the simulator's resolvers -------------------------------------------------


def cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index}".encode()).decode()


def _cursor_index(value: Any) -> int:
    try:
        text = base64.b64decode(str(value), validate=True).decode()
        prefix, _, number = text.partition(":")
        if prefix != "cursor":
            raise ValueError(text)
        return int(number)
    except ValueError as exc:
        raise GraphQLError(f"Invalid cursor {value!r}", code="badRequest") from exc


def connection(items: list[Any], arguments: Mapping[str, Any], *, limit: int = 250) -> dict:
    """A Relay connection over ``items`` for ``first``/``after`` (or ``last``/``before``)."""
    first, last = arguments.get("first"), arguments.get("last")
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last", code="badRequest")
    start = _cursor_index(arguments["after"]) + 1 if arguments.get("after") else 0
    end = _cursor_index(arguments["before"]) if arguments.get("before") else len(items)
    for size in (first, last):
        if size is not None and not (isinstance(size, int) and 0 <= size <= limit):
            raise GraphQLError(f"first/last must be between 0 and {limit}", code="badRequest")
    window = list(enumerate(items))[start:end]
    has_next = has_previous = False
    if first is not None:
        has_next = len(window) > first
        window = window[:first]
    if last is not None:
        has_previous = len(window) > last
        window = window[-last:] if last else []
    return {
        "__typename": "Connection",
        "nodes": [item for _, item in window],
        "edges": [
            {"__typename": "Edge", "cursor": cursor(index), "node": item} for index, item in window
        ],
        "pageInfo": {
            "__typename": "PageInfo",
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous or start > 0,
            "startCursor": cursor(window[0][0]) if window else None,
            "endCursor": cursor(window[-1][0]) if window else None,
        },
    }
