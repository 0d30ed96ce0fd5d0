"""Reading schema.yml in tests: the committed document, its operations, and its schemas as JSON Schema."""

import re
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schema.yml"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def load() -> dict:
    return yaml.safe_load(SCHEMA_FILE.read_text())


def operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    """(path template, METHOD, operation) for every operation."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method.upper(), operation


def operation_for(document: dict, method: str, path: str) -> dict:
    """The operation a concrete request path is answered by (templates matched like a router)."""
    for template, item in document["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            # A literal segment beats a parameter (tools/{slug}/vote/ vs tools/{slug}/reviews/ do not clash).
            operation = item.get(method.lower())
            if operation is None:
                # A method the path does not answer: its 405 is declared on the path's operations.
                (operation,) = [{"responses": {"405": op["responses"]["405"]}} for op in item.values()][:1]
            return operation
    raise AssertionError(f"no path in the schema matches {path}")


def json_schema(document: dict, schema: dict) -> dict:
    """An OpenAPI 3.0 schema as JSON Schema (2020-12): `nullable` adds a null alternative,
    boolean exclusive bounds become numbers, refs point at $defs."""
    key = id(document)
    if key not in _DEFINITIONS:
        _DEFINITIONS[key] = (document, _convert(document["components"]["schemas"]))
    return {**_convert(schema), "$defs": _DEFINITIONS[key][1]}


_DEFINITIONS: dict[int, tuple[dict, object]] = {}  # the document is kept so its id is not reused


def _convert(node: object) -> object:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _convert(value) for key, value in node.items() if key not in ("example", "discriminator")}
    if "$ref" in node:
        node["$ref"] = node["$ref"].replace("#/components/schemas/", "#/$defs/")
    for bound in ("Maximum", "Minimum"):
        if node.get(f"exclusive{bound}") is True:  # 3.0's boolean form
            node[f"exclusive{bound}"] = node.pop(bound.lower())
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        section, _, name = node["$ref"].removeprefix("#/components/").partition("/")
        node = document["components"][section][name]
    return node
