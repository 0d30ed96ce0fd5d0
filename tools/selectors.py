"""Reads of the tools' own counters, for documents cached apart from them (compare_api.caching;
ToolsConfig.ready registers community_tallies there)."""

from django.db import connection

from compare_api.caching import Tallied
from compare_api.stats import Tally
from tools.models import Tool

_TALLIES_SQL = (
    "SELECT slug, community_ship_count, community_skip_count FROM {table} WHERE is_published AND slug IN ({slugs})"
)


def community_tallies(slugs: list[str]) -> dict[str, dict]:
    """The published tools' community tallies as documents show them, by slug: one query, written
    out (it follows every vote on a cached document's tools, so the ORM's build is left out)."""
    sql = _TALLIES_SQL.format(table=Tool._meta.db_table, slugs=", ".join(["%s"] * len(slugs)))
    with connection.cursor() as cursor:
        cursor.execute(sql, slugs)
        return {slug: Tally(ship, skip).as_dict() for slug, ship, skip in cursor.fetchall()}


# How the tool documents show votes: a tool, a page of the tools list, the two tools of a comparison.
TOOL_TALLIES = Tallied(tools_of=lambda document: [document])
LIST_TALLIES = Tallied(tools_of=lambda document: document["results"])
COMPARISON_TALLIES = Tallied(tools_of=lambda document: document["tools"])
