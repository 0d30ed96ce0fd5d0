"""The methodology is stated from the code's own constants, and agrees with the boards and the schema."""

from pathlib import Path

import pytest
from django.conf import settings

from compare_api.stats import RANKING_METHOD, Z95

pytestmark = pytest.mark.django_db


def test_the_methodology_states_the_rule_the_boards_use(api, seeded) -> None:
    methodology = api.get("/api/v1/methodology/").json()
    board = api.get("/api/v1/leaderboards/").json()

    assert methodology["method"] == methodology["ranking"]["method"] == board["meta"]["method"] == RANKING_METHOD
    assert methodology["community"]["min_total"] == board["meta"]["min_total"] == settings.LEADERBOARD_MIN_TOTAL
    assert methodology["ranking"]["min_total"] == {"community": 10, "panel": 1}
    assert methodology["interval"]["z"] == Z95
    assert methodology["interval"]["confidence"] == 0.95
    assert methodology["panel"]["size"] == 4
    assert [reviewer["slug"] for reviewer in methodology["panel"]["reviewers"]] == [
        reviewer["slug"] for reviewer in api.get("/api/v1/reviewers/").json()["results"]
    ]
    assert "4 ship of 4 is only known to lie in [0.5101, 1.0]" in methodology["ranking"]["panel_note"]
    # The badges say what the methodology says they say.
    panel_badge = api.get("/api/v1/badges/tools/code-llama-4.json").json()
    assert panel_badge["message"] == "3/4 ship"
    assert "`3/4 ship`" in methodology["badges"]
    assert api.get("/api/v1/badges/tools/code-llama-4.svg")["Verdicts-Method"] == RANKING_METHOD


def test_the_minimum_stated_follows_the_setting(api, seeded, settings) -> None:
    settings.LEADERBOARD_MIN_TOTAL = 25

    methodology = api.get("/api/v1/methodology/").json()

    assert methodology["community"]["min_total"] == methodology["ranking"]["min_total"]["community"] == 25
    assert "fewer than 25 counted votes" in methodology["picks"]["community_pick"]
    assert "below 25 counted votes" in methodology["badges"]


def test_the_readme_and_the_schema_name_the_same_method() -> None:
    root = Path(settings.BASE_DIR)
    assert RANKING_METHOD in (root / "README.md").read_text()
    assert RANKING_METHOD in (root / "schema.yml").read_text()
    assert "LEADERBOARD_MIN_TOTAL" in (root / "README.md").read_text()
