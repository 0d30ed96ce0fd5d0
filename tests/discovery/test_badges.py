"""Embeddable badges: GET /api/v1/badges/tools/{slug}.svg, .json and the embed snippets."""

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient
from rest_framework.views import APIView

from compare_api.stats import RANKING_METHOD, Tally
from discovery import badges
from tests.factories import ReviewerFactory, ReviewFactory, ToolFactory, UserFactory
from tests.helpers import bearer, redis_server
from tools.models import Tool

pytestmark = pytest.mark.django_db
SVG_NS = "{http://www.w3.org/2000/svg}"
IMG_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"  # what a browser's <img> sends


def svg_url(slug: str, query: str = "") -> str:
    return f"/api/v1/badges/tools/{slug}.svg{query}"


def json_url(slug: str, query: str = "") -> str:
    return f"/api/v1/badges/tools/{slug}.json{query}"


def parsed(response) -> dict:
    """What a reader of the SVG gets: its title, aria-label, role, description and texts."""
    root = ET.fromstring(response.content)
    assert root.tag == f"{SVG_NS}svg"
    return {
        "role": root.get("role"),
        "aria-label": root.get("aria-label"),
        "title": root.find(f"{SVG_NS}title").text,
        "desc": root.find(f"{SVG_NS}desc").text,
        "texts": [text.text for text in root.iter(f"{SVG_NS}text")],
        "method": root.get("data-method"),
    }


@pytest.fixture
def reviewed(db) -> Tool:
    """A tool the panel of four reviewed: three ship, one skip."""
    tool = ToolFactory(slug="alpha")
    for verdict in ("ship", "ship", "ship", "skip"):
        ReviewFactory(tool=tool, reviewer=ReviewerFactory(), verdict=verdict)
    return tool


def test_the_panel_badge_says_ship_verdicts_of_reviews(api, reviewed) -> None:
    response = api.get(svg_url("alpha"), HTTP_ACCEPT=IMG_ACCEPT)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert parsed(response) == {
        "role": "img",
        "aria-label": "Panel: 3 of 4 reviews say ship",
        "title": "Panel: 3 of 4 reviews say ship",
        "desc": f"AI Tool Verdicts: the panel tally of the tool 'alpha'. Method: {RANKING_METHOD}.",
        "texts": ["Panel", "3/4 ship"],
        "method": RANKING_METHOD,
    }
    assert api.get(svg_url("alpha", "?metric=panel")).content == response.content  # panel is the default


def test_the_community_badge_shows_a_rate_only_from_the_leaderboards_minimum(api, cast_votes, settings) -> None:
    settings.LEADERBOARD_MIN_TOTAL = 10
    tool = ToolFactory(slug="alpha")
    cast_votes(tool, ship=2, skip=1)
    below = parsed(api.get(svg_url("alpha", "?metric=community")))
    assert below["texts"] == ["Community", "3 votes · needs 10"]
    assert below["title"] == below["aria-label"] == "Community: 3 votes, 10 needed for a rate"
    cast_votes(tool, ship=6, skip=1)
    enough = parsed(api.get(svg_url("alpha", "?metric=community")))
    assert enough["texts"] == ["Community", "80% · 10 votes"]
    assert enough["title"] == enough["aria-label"] == "Community: 80% of 10 votes say ship"


def test_nobody_has_a_say_yet_is_a_dash(api) -> None:
    ToolFactory(slug="alpha")
    panel = parsed(api.get(svg_url("alpha")))
    community = parsed(api.get(svg_url("alpha", "?metric=community")))
    assert (panel["texts"], panel["title"]) == (["Panel", "—"], "Panel: no reviews yet")
    assert (community["texts"], community["title"]) == (["Community", "—"], "Community: no votes yet")


def test_texts_have_thousands_separators_and_round_half_up() -> None:
    assert badges.community_badge(Tally(893, 347), min_total=10).message == "72% · 1,240 votes"
    assert badges.community_badge(Tally(1, 7), min_total=8).message == "13% · 8 votes"  # 12.5% rounds up
    assert badges.community_badge(Tally(1, 0), min_total=10).message == "1 vote · needs 10"
    assert badges.panel_badge(Tally(1200, 34)).message == "1,200/1,234 ship"


@pytest.mark.parametrize(
    ("tally", "lean"),
    [(Tally(4, 0), "ship"), (Tally(3, 1), "split"), (Tally(0, 4), "skip"), (Tally(0, 0), "none")],
)
def test_the_colour_is_what_the_wilson_interval_says(tally: Tally, lean: str) -> None:
    # 3 of 4 is [0.30, 0.95]: across one half, so a split, not a ship.
    assert badges.panel_badge(tally).lean == lean


def test_every_text_a_badge_can_show_has_its_widths() -> None:
    tallies = [Tally(ship, skip) for ship in (0, 1, 9, 1234) for skip in (0, 1, 56789)]
    shown = [
        badge
        for tally in tallies
        for badge in (badges.panel_badge(tally), *(badges.community_badge(tally, min_total=n) for n in (1, 10)))
    ]
    texts = {badge.label + badge.message for badge in shown}
    assert set("".join(texts)) <= set(badges.WIDTHS)
    assert badges.text_width("Panel") == 31  # 302 tenths of a pixel, rounded up


def test_themes(api, reviewed) -> None:
    light = api.get(svg_url("alpha", "?theme=light")).content.decode()
    dark = api.get(svg_url("alpha", "?theme=dark")).content.decode()
    auto = api.get(svg_url("alpha", "?theme=auto")).content.decode()
    assert 'fill="#555555"' in light and "<style>" not in light
    assert 'fill="#3d444d"' in dark and 'fill="#0d1117"' in dark and "<style>" not in dark
    assert 'fill="#555555"' in auto and "@media (prefers-color-scheme: dark)" in auto and ".l{fill:#3d444d}" in auto
    assert light == api.get(svg_url("alpha")).content.decode()  # light is the default
    for body in (light, dark, auto):
        ET.fromstring(body)


def test_everything_in_the_svg_is_escaped() -> None:
    badge = badges.Badge("Panel", "<b>&", 'say "ship" & <skip>', "none")
    root = ET.fromstring(badges.render_svg(badge, theme="light", slug="a&b"))
    assert root.get("aria-label") == 'say "ship" & <skip>'
    assert [text.text for text in root.iter(f"{SVG_NS}text")] == ["Panel", "<b>&"]
    assert "'a&b'" in root.find(f"{SVG_NS}desc").text


def test_the_shields_endpoint_document(api, reviewed) -> None:
    response = api.get(json_url("alpha"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "schemaVersion": 1,
        "label": "Panel",
        "message": "3/4 ship",
        "color": "#9a6700",
        "cacheSeconds": 300,
    }
    assert api.get(json_url("alpha", "?metric=community")).json() == {
        "schemaVersion": 1,
        "label": "Community",
        "message": "—",
        "color": "#656d76",
        "cacheSeconds": 300,
    }


@pytest.mark.parametrize("url", [svg_url("alpha"), json_url("alpha")])
def test_badge_headers(api, reviewed, settings, url: str) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://frontend.example"]  # badges are open whatever this says
    for origin in ("https://frontend.example", "https://blog.example", None):
        response = api.get(url, **({"HTTP_ORIGIN": origin} if origin else {}))
        assert response.status_code == 200
        assert response["Cache-Control"] == "public, max-age=300"
        assert response["Access-Control-Allow-Origin"] == "*"
        assert "ETag" in response["Access-Control-Expose-Headers"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Verdicts-Method"] == RANKING_METHOD
        assert response["ETag"].startswith('"') and len(response["ETag"]) == 34
        assert "Origin" not in response.get("Vary", "")
    if url.endswith(".svg"):
        assert response["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    revalidated = api.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert revalidated.status_code == 304
    assert revalidated.content == b""
    assert (revalidated["ETag"], revalidated["Cache-Control"]) == (response["ETag"], "public, max-age=300")
    assert revalidated["Access-Control-Allow-Origin"] == "*"


def test_a_preflight_is_open_to_any_origin(api, reviewed) -> None:
    response = api.options(
        svg_url("alpha"), HTTP_ORIGIN="https://blog.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="if-none-match",
    )  # fmt: skip
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "if-none-match" in response["Access-Control-Allow-Headers"]
    assert "GET" in response["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("accept", [IMG_ACCEPT, "image/svg+xml", "image/*", "*/*", None])
def test_what_an_img_asks_for_is_the_svg(api, reviewed, accept) -> None:
    response = api.get(svg_url("alpha"), **({"HTTP_ACCEPT": accept} if accept else {}))
    assert (response.status_code, response["Content-Type"]) == (200, "image/svg+xml; charset=utf-8")


def test_a_client_that_refuses_svg_gets_a_json_406(api, reviewed) -> None:
    response = api.get(svg_url("alpha"), HTTP_ACCEPT="application/json")
    assert (response.status_code, response["Content-Type"]) == (406, "application/json")
    assert response.json()["errors"][0]["code"] == "not_acceptable"


@pytest.mark.parametrize(
    ("url", "attr"),
    [
        (svg_url("alpha", "?metric=votes"), "metric"),
        (svg_url("alpha", "?theme=pink"), "theme"),
        (svg_url("alpha", "?metric="), "metric"),
        (json_url("alpha", "?metric=votes"), "metric"),
    ],
)
def test_an_unknown_metric_or_theme_is_a_json_400(api, reviewed, url: str, attr: str) -> None:
    response = api.get(url, HTTP_ACCEPT=IMG_ACCEPT)
    assert (response.status_code, response["Content-Type"]) == (400, "application/json")
    (error,) = response.json()["errors"]
    assert (error["code"], error["attr"]) == ("invalid_choice", attr)
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("url", [svg_url("hidden"), json_url("hidden"), svg_url("nope"), "/api/v1/badges/tools/nope/"])
def test_an_unknown_or_unpublished_tool_is_a_json_404(api, url: str) -> None:
    ToolFactory(slug="hidden", is_published=False)
    response = api.get(url, HTTP_ACCEPT=IMG_ACCEPT if url.endswith(".svg") else "application/json")
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    slug = url.split("/")[5].split(".")[0]
    assert response.json()["errors"] == [
        {"code": "not_found", "detail": f"No published tool has the slug '{slug}'.", "attr": None}
    ]


def test_the_embed_snippets(api, reviewed, settings) -> None:
    settings.PUBLIC_BASE_URL = "https://api.verdicts.example"
    settings.SITE_URL = "https://verdicts.example"
    Tool.objects.filter(slug="alpha").update(name='Alpha [beta] & "co"')
    response = api.get("/api/v1/badges/tools/alpha/")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    base = "https://api.verdicts.example/api/v1/badges/tools/alpha"
    link = "https://verdicts.example/tools/alpha/"
    assert response.json() == {
        "tool": "alpha",
        "link": link,
        "method": RANKING_METHOD,
        "badges": {
            metric: {
                "svg": f"{base}.svg?metric={metric}",
                "json": f"{base}.json?metric={metric}",
                "html": f'<a href="{link}"><img src="{base}.svg?metric={metric}" '
                f'alt="{title} verdicts on Alpha [beta] &amp; &quot;co&quot; (AI Tool Verdicts)" height="20"></a>',
                "markdown": f'[![{title} verdicts on Alpha \\[beta\\] & "co" (AI Tool Verdicts)]'
                f"({base}.svg?metric={metric})]({link})",
            }
            for metric, title in (("panel", "Panel"), ("community", "Community"))
        },
    }


@pytest.mark.parametrize(
    "url", [svg_url("alpha"), json_url("alpha", "?metric=community"), "/api/v1/badges/tools/alpha/"]
)
def test_one_query_uncached_none_cached(api, reviewed, settings, django_assert_num_queries, url: str) -> None:
    with django_assert_num_queries(1):
        first = api.get(url)
    assert first.status_code == 200
    settings.DOCUMENT_CACHE = True
    api.get(url)
    with django_assert_num_queries(0):
        cached = api.get(url)
    assert (cached.content, cached["ETag"]) == (first.content, first["ETag"])
    assert cached["Cache-Control"] == first["Cache-Control"]
    assert cached["Access-Control-Allow-Origin"] == "*"


@pytest.fixture
def cached(settings, django_capture_on_commit_callbacks) -> Tool:
    settings.DOCUMENT_CACHE = True
    with django_capture_on_commit_callbacks(execute=True):
        return ToolFactory(slug="alpha")


def test_a_vote_invalidates_the_badge(api, cached, django_capture_on_commit_callbacks) -> None:
    url = svg_url("alpha", "?metric=community")
    before = api.get(url)
    assert parsed(before)["texts"] == ["Community", "—"]
    with django_capture_on_commit_callbacks(execute=True):
        api.put("/api/v1/tools/alpha/vote/", {"verdict": "ship"}, format="json", **bearer(UserFactory()))
    after = api.get(url, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert parsed(after)["texts"] == ["Community", "1 vote · needs 10"]
    assert APIClient().get(json_url("alpha", "?metric=community")).json()["message"] == "1 vote · needs 10"


def test_a_catalog_write_invalidates_the_badge(
    api, cached, django_capture_on_commit_callbacks, django_assert_num_queries
) -> None:
    before = api.get(svg_url("alpha"))
    with django_capture_on_commit_callbacks(execute=True):
        ReviewFactory(tool=cached, verdict="skip")
    after = api.get(svg_url("alpha"), HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert parsed(after)["texts"] == ["Panel", "0/1 ship"]
    with django_capture_on_commit_callbacks(execute=True):
        Tool.objects.get(slug="alpha").save()  # any staff edit of the catalog, as the admin saves it
    with django_assert_num_queries(1):  # built again; the same bytes, so the same ETag: still a 304
        assert api.get(svg_url("alpha"), HTTP_IF_NONE_MATCH=after["ETag"]).status_code == 304
    with django_capture_on_commit_callbacks(execute=True):
        tool = Tool.objects.get(slug="alpha")
        tool.is_published = False
        tool.save()
    assert api.get(svg_url("alpha")).status_code == 404


@pytest.fixture
def redis_cache(settings, django_capture_on_commit_callbacks) -> Iterator[None]:
    with redis_server() as redis:
        settings.CACHES = {"default": {"BACKEND": "compare_api.cache.RedisCache", "LOCATION": redis.url}}
        settings.DOCUMENT_CACHE = True
        with django_capture_on_commit_callbacks(execute=True):
            ToolFactory(slug="alpha")
        yield


@pytest.mark.parametrize(
    ("url", "accept"),
    [(svg_url("alpha", "?theme=dark"), IMG_ACCEPT), (svg_url("alpha"), "image/svg+xml"), (json_url("alpha"), None)],
)
def test_the_fast_path_serves_badges_as_the_view_does(api, redis_cache, monkeypatch, url: str, accept) -> None:
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    first = api.get(url, **headers)
    assert first.status_code == 200
    monkeypatch.setattr(APIView, "dispatch", lambda *a, **k: (_ for _ in ()).throw(AssertionError("view ran")))
    second = api.get(url, **headers)
    assert second.status_code == 200
    assert second.content == first.content
    names = ["Content-Type", "ETag", "Cache-Control", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
             "X-Content-Type-Options", "Verdicts-Method", "RateLimit-Limit"]  # fmt: skip
    if ".svg" in url:
        names.append("Content-Security-Policy")
    assert {name: second[name] for name in names} == {name: first[name] for name in names}
    revalidated = api.get(url, HTTP_IF_NONE_MATCH=first["ETag"], **headers)
    assert revalidated.status_code == 304
    assert revalidated["Cache-Control"] == "public, max-age=300"


def test_the_fast_path_leaves_json_documents_as_they_were(api, redis_cache, monkeypatch) -> None:
    api.get("/api/v1/tools/alpha/")
    monkeypatch.setattr(APIView, "dispatch", lambda *a, **k: (_ for _ in ()).throw(AssertionError("view ran")))
    response = api.get("/api/v1/tools/alpha/")
    assert (response["Content-Type"], response["Cache-Control"]) == ("application/json", "public, no-cache")
    assert "Access-Control-Allow-Origin" not in response


def _rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


@pytest.mark.parametrize("fast_path", [False, True], ids=["view", "fast path"])
def test_badges_have_a_per_ip_limit_of_their_own(api, settings, fast_path, request) -> None:
    """An image proxy (GitHub's camo, shields.io) fetches every embedded badge from a few addresses:
    badges count against THROTTLE_BADGE, not the reads' THROTTLE_ANON, and the two never mix."""
    if fast_path:
        request.getfixturevalue("redis_cache")
    else:
        ToolFactory(slug="alpha")
    _rates(settings, anon="2/min", badge="4/min")
    badges_fetched = [api.get(svg_url("alpha"), HTTP_ACCEPT=IMG_ACCEPT) for _ in range(3)]
    badges_fetched += [api.get(json_url("alpha")), api.get(svg_url("alpha"))]
    assert [b.status_code for b in badges_fetched] == [200, 200, 200, 200, 429]
    assert [b["RateLimit-Limit"] for b in badges_fetched] == ["4"] * 5
    assert [b["RateLimit-Remaining"] for b in badges_fetched] == ["3", "2", "1", "0", "0"]
    refused = badges_fetched[-1]
    assert refused["Content-Type"] == "application/json"
    assert refused.json()["errors"][0]["code"] == "throttled"
    # The same address's API reads were not used up by its badges, nor the other way round.
    reads = [api.get("/api/v1/tools/alpha/") for _ in range(3)]
    assert [(r.status_code, r["RateLimit-Limit"], r["RateLimit-Remaining"]) for r in reads] == [
        (200, "2", "1"),
        (200, "2", "0"),
        (429, "2", "0"),
    ]
    # Another address has its own badge allowance.
    assert api.get(svg_url("alpha"), REMOTE_ADDR="203.0.113.9")["RateLimit-Remaining"] == "3"
