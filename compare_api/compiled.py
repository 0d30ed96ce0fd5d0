"""ORM queries compiled once per process and run with fresh values.

On the hot read paths, building a QuerySet and compiling it to SQL costs more
CPU than PostgreSQL takes to answer it. The SQL text never changes between
requests, only the values do, so each query here is built with the ORM once,
with sentinel values standing in for the per-request ones, and afterwards
executed straight through the connection's cursor.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.models import QuerySet


class CompiledQuery:
    def __init__(self, build: Callable[..., QuerySet], **sentinels: Any) -> None:
        """`build(**sentinels)` returns a values_list() query; each sentinel must appear in its parameters."""
        self.build = build
        self.sentinels = sentinels
        self._by_alias: dict[str, tuple[str, list[Any], dict[int, str]]] = {}

    def _compile(self, alias: str) -> tuple[str, list[Any], dict[int, str]]:
        queryset = self.build(**self.sentinels)
        sql, params = queryset.query.get_compiler(using=alias).as_sql()
        slots = {
            index: name
            for index, value in enumerate(params)
            for name, sentinel in self.sentinels.items()
            if type(value) is type(sentinel) and value == sentinel
        }
        missing = set(self.sentinels) - set(slots.values())
        if missing:
            raise ValueError(f"sentinels {sorted(missing)} do not reach the SQL parameters")
        return sql, list(params), slots

    def rows(self, alias: str = "default", **values: Any) -> Sequence[tuple]:
        connection = connections[alias]
        compiled = self._by_alias.get(connection.vendor)
        if compiled is None:
            compiled = self._by_alias[connection.vendor] = self._compile(alias)
        sql, params, slots = compiled
        params = [values[slots[index]] if index in slots else value for index, value in enumerate(params)]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
