"""ORM queries compiled once per process and run with fresh values.

On the hot paths, building a QuerySet and compiling it to SQL costs more CPU
than PostgreSQL takes to answer it. The SQL text never changes between
requests, only the values do, so each query here is built with the ORM once,
with sentinel values standing in for the per-request ones, and afterwards
executed straight through the connection's cursor. The backend's converters
(SQLite's naive datetimes made aware, and the like) still apply to the rows.
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
            sql, list(params), slots, [(index, convs, expr) for index, (convs, expr) in converters.items()]
        )

    def rows(self, alias: str = "default", **values: Any) -> Sequence[tuple]:
        connection = connections[alias]
        compiled = self._by_vendor.get(connection.vendor)
        if compiled is None:
            compiled = self._by_vendor[connection.vendor] = self._compile(alias)
        slots = compiled.slots
        params = [values[slots[index]] if index in slots else value for index, value in enumerate(compiled.params)]
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
