"""`manage.py seed` loads the seed comparison idempotently: same rows, same ids."""

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from reviews.models import Comparison, Review, Reviewer
from tools.models import Category, Tool, Vendor

pytestmark = pytest.mark.django_db
MODELS = [Category, Vendor, Tool, Reviewer, Review, Comparison]


def _snapshot() -> dict:
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in MODELS}


def test_the_seed_holds_the_page() -> None:
    call_command("seed", verbosity=0)
    assert {model.__name__: model.objects.count() for model in MODELS} == {
        "Category": 1,
        "Vendor": 2,
        "Tool": 2,
        "Reviewer": 4,
        "Review": 8,
        "Comparison": 1,
    }
    assert list(Vendor.objects.values_list("name", flat=True)) == ["Meta", "Mistral AI"]
    assert list(Reviewer.objects.values_list("name", "lens")) == [
        ("The Builder", "Developer experience"),
        ("The Strategist", "Competitive market"),
        ("The Futurist", "Future thesis"),
        ("The Buyer", "Business and buyer"),
    ]
    assert list(Review.objects.filter(verdict="skip").values_list("reviewer__slug", "tool__slug")) == [
        ("the-buyer", "code-llama-4")
    ]


def test_loading_twice_changes_nothing(capsys) -> None:
    call_command("seed")
    first = _snapshot()
    call_command("seed")
    assert _snapshot() == first
    assert "8 reviews unchanged" in capsys.readouterr().out


def test_reloading_repairs_edits_in_place_keeping_ids() -> None:
    call_command("seed", verbosity=0)
    tool = Tool.objects.get(slug="code-llama-4")
    review = Review.objects.get(reviewer__slug="the-buyer", tool=tool)
    Tool.objects.filter(pk=tool.pk).update(tagline="edited")
    Review.objects.filter(pk=review.pk).update(verdict="ship")
    call_command("seed", verbosity=0)
    assert Tool.objects.get(pk=tool.pk).tagline.startswith("Meta's open-weight code model")
    assert Review.objects.get(pk=review.pk).verdict == "skip"
    assert Review.objects.count() == 8


def test_the_seed_file_is_the_only_source_of_the_data() -> None:
    data = json.loads((Path(settings.BASE_DIR) / "seeds" / "code-llama-4-vs-mistral-large-3.json").read_text())
    call_command("seed", verbosity=0)
    assert sorted(Review.objects.values_list("body", flat=True)) == sorted(row["body"] for row in data["reviews"])


def test_a_small_scale_load_goes_in_whole() -> None:
    """The benchmarks' dataset in miniature. On PostgreSQL its rows go in with COPY, which names
    its columns itself: a column added without a database default must be added there too."""
    call_command("seed", verbosity=0)
    call_command(
        "seed", "--scale", "--tools", "30", "--reviewers", "3", "--voters", "40", "--votes-per-voter", "4",
        "--no-progress", verbosity=0,
    )  # fmt: skip
    tools = Tool.objects.count()
    scale_reviewers = Reviewer.objects.filter(slug__startswith="scale-")
    assert tools == 30
    assert Review.objects.filter(reviewer__in=scale_reviewers, correction="").count() == 3 * tools
    assert (
        sum(Tool.objects.values_list("community_ship_count", flat=True))
        + sum(Tool.objects.values_list("community_skip_count", flat=True))
        == 40 * 4
    )
    call_command("recount_votes", "--no-progress", verbosity=0)  # raises when a counter disagrees with the votes
