"""ORM queries compiled once per process and run with fresh values.

On the hot paths, building a QuerySet and compiling it to SQL costs more CPU
than PostgreSQL takes to answer it. The SQL text never changes between
requests, only the values do, so each query here is built with the ORM once,
with sentinel values standing in for the per-request ones, and afterwards
executed straight through the connection's cursor. The backend's converters
(SQLite's naive datetimes made aware, and the like) still apply to the rows.

On PostgreSQL, several such queries can run as one statement (CompiledStatement):
one round trip where each query would cost its own.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import QuerySet


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: list[Any]
    slots: dict[int, str]  # parameter position -> sentinel name
    converters: list[tuple[int, list[Callable], Any]]  # (column, converters, expression)
    aliases: tuple[str | None, ...]  # the columns' names in the SQL


def _params(compiled: _Compiled, values: dict[str, Any]) -> list[Any]:
    slots = compiled.slots
    return [values[slots[index]] if index in slots else value for index, value in enumerate(compiled.params)]


class CompiledQuery:
    def __init__(self, build: Callable[..., QuerySet], **sentinels: Any) -> None:
        """`build(**sentinels)` returns a values_list() query; each sentinel must appear in its parameters."""
        self.build = build
        self.sentinels = sentinels
        self._by_vendor: dict[str, _Compiled] = {}

    def _compile(self, alias: str) -> _Compiled:
        compiler = self.build(**self.sentinels).query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = {
            index: name
            for index, value in enumerate(params)
            for name, sentinel in self.sentinels.items()
            if type(value) is type(sentinel) and value == sentinel
        }
        missing = set(self.sentinels) - set(slots.values())
        if missing:
            raise ValueError(f"sentinels {sorted(missing)} do not reach the SQL parameters")
        converters = compiler.get_converters([expression for expression, _, _ in compiler.select])
        return _Compiled(
            sql,
            list(params),
            slots,
            [(index, convs, expr) for index, (convs, expr) in converters.items()],
            tuple(alias for _, _, alias in compiler.select),
        )

    def compiled(self, alias: str = "default") -> _Compiled:
        vendor = connections[alias].vendor
        compiled = self._by_vendor.get(vendor)
        if compiled is None:
            compiled = self._by_vendor[vendor] = self._compile(alias)
        return compiled

    def rows(self, alias: str = "default", **values: Any) -> Sequence[tuple]:
        connection = connections[alias]
        compiled = self.compiled(alias)
        params = _params(compiled, values)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if not compiled.converters:
            return rows
        converted = []
        for row in rows:
            row = list(row)
            for index, convs, expression in compiled.converters:
                for convert in convs:
                    row[index] = convert(row[index], expression, connection)
            converted.append(tuple(row))
        return converted


class CompiledStatement:
    """Compiled queries run together as one PostgreSQL statement: one round trip for all of them.

    Each part's query becomes a subquery whose rows PostgreSQL returns as one JSON array
    (json_agg, in the order of the part's own ORDER BY), so the statement answers a single row
    with one column per part. Its text and parameters are the parts' own, so psycopg prepares it
    on each connection like any other statement (prepare_threshold). The values arrive as JSON
    does: numbers, booleans, null, and text for everything else (dates and timestamps in ISO
    8601), which the caller turns into what it shows; no backend converter applies, so a part
    that needs one is refused.
    """

    def __init__(self, **parts: CompiledQuery) -> None:
        self.parts = parts
        self._compiled: _Compiled | None = None

    def _compile(self, alias: str) -> _Compiled:
        selects: list[str] = []
        params: list[Any] = []
        slots: dict[int, str] = {}
        for name, part in self.parts.items():
            compiled = part.compiled(alias)
            if compiled.converters:
                raise ValueError(f"part {name!r} has converters, which its JSON values would not pass through")
            if None in compiled.aliases or len(set(compiled.aliases)) < len(compiled.aliases):
                raise ValueError(f"part {name!r} needs a distinct name for each column, as JSON keys")
            # Each row as a JSON object keyed by the part's column aliases (unique, in select order):
            # shorter text than naming every column again, so the statement stays under psycopg's
            # MAX_CACHED_STATEMENT_LENGTH and its parse is cached (otherwise it is parsed on every run).
            selects.append(f"(SELECT coalesce(json_agg({name}), '[]') FROM ({compiled.sql}) AS {name})")
            slots.update({len(params) + index: sentinel for index, sentinel in compiled.slots.items()})
            params += compiled.params
        return _Compiled("SELECT " + ", ".join(selects), params, slots, [], tuple(self.parts))

    def rows(self, alias: str = "default", **values: Any) -> dict[str, list[list]]:
        """Each part's rows (lists of JSON values, in the part's column order), by part name."""
        connection = connections[alias]
        if connection.vendor != "postgresql":
            raise ValueError("one statement for several queries is PostgreSQL's (json_agg)")
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = self._compile(alias)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, _params(compiled, values))
            row = cursor.fetchone()
        return {name: [list(columns.values()) for columns in rows] for name, rows in zip(self.parts, row, strict=True)}
