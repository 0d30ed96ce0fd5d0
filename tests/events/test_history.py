"""Score history: a row per published tool per day, equal to its tallies of that day; the read."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from compare_api.stats import Tally
from events.models import TallySnapshot
from events.tasks import history_snapshot
from tests.factories import ReviewFactory, ToolFactory
from tools.models import Tool

pytestmark = pytest.mark.django_db


def day(date: str, panel: tuple[int, int], community: tuple[int, int]) -> dict:
    return {"date": date, "panel": Tally(*panel).as_dict(), "community": Tally(*community).as_dict()}


def test_publication_writes_the_first_row() -> None:
    tool = ToolFactory()
    today = timezone.localdate()
    assert list(TallySnapshot.objects.values_list("tool", "date", "panel_ship", "community_ship")) == [
        (tool.pk, today, 0, 0)
    ]


def test_the_daily_job_writes_each_published_tool_and_its_last_run_of_the_day_stands(cast_votes) -> None:
    tool, hidden = ToolFactory(), ToolFactory(is_published=False)
    ReviewFactory(tool=tool, verdict="skip")
    cast_votes(tool, ship=2)
    assert history_snapshot.call() == 1
    cast_votes(tool, skip=1)
    assert history_snapshot.call() == 1
    row = TallySnapshot.objects.get(tool=tool)
    tool.refresh_from_db()
    assert (
        (row.panel_ship, row.panel_skip, row.community_ship, row.community_skip)
        == (
            tool.panel_ship_count,
            tool.panel_skip_count,
            tool.community_ship_count,
            tool.community_skip_count,
        )
        == (0, 1, 2, 1)
    )
    assert not TallySnapshot.objects.filter(tool=hidden).exists()


@pytest.fixture
def history() -> Tool:
    tool = ToolFactory(slug="charted")
    TallySnapshot.objects.filter(tool=tool).delete()
    for date, counts in [("2026-01-01", (1, 0, 0, 0)), ("2026-01-02", (1, 1, 3, 1)), ("2026-01-05", (2, 1, 9, 2))]:
        TallySnapshot.objects.create(
            tool=tool,
            date=date,
            **dict(zip(("panel_ship", "panel_skip", "community_ship", "community_skip"), counts, strict=True)),
        )
    return tool


def test_the_history_oldest_first_within_the_range(api: APIClient, history: Tool, django_assert_num_queries) -> None:
    with django_assert_num_queries(2):
        response = api.get("/api/v1/tools/charted/history/", {"from": "2026-01-02", "to": "2026-01-05"})
    assert response.status_code == 200
    assert response.json() == [day("2026-01-02", (1, 1), (3, 1)), day("2026-01-05", (2, 1), (9, 2))]
    everything = api.get("/api/v1/tools/charted/history/").json()
    assert [row["date"] for row in everything] == ["2026-01-01", "2026-01-02", "2026-01-05"]


@pytest.mark.parametrize(
    ("params", "attr", "detail"),
    [
        ({"from": "2026-1-2"}, "from", "A date as YYYY-MM-DD."),
        ({"to": "2026-02-30"}, "to", "A date as YYYY-MM-DD."),
        ({"from": "２０２６-01-01"}, "from", "A date as YYYY-MM-DD."),
        ({"from": "2026-01-03", "to": "2026-01-02"}, "from", "`from` is after `to`."),
    ],
)
def test_bad_dates_are_a_400(api: APIClient, history: Tool, params: dict, attr: str, detail: str) -> None:
    response = api.get("/api/v1/tools/charted/history/", params)
    assert (response.status_code, response.json()) == (
        400,
        {"type": "validation_error", "errors": [{"code": "invalid", "detail": detail, "attr": attr}]},
    )


def test_an_unknown_or_unpublished_tool_is_a_404(api: APIClient, history: Tool) -> None:
    Tool.objects.filter(pk=history.pk).update(is_published=False)
    for slug in ("charted", "nope"):
        response = api.get(f"/api/v1/tools/{slug}/history/")
        assert response.status_code == 404
        assert response.json()["errors"][0]["detail"] == f"No published tool has the slug '{slug}'."
