"""The editors' round in a real browser (Debian's chromium, through Selenium, as tests/test_docs_offline.py):
a tool and a curated comparison written in the admin start as drafts, their preview links show the
documents they will be, they are scheduled, and they go live when the clock reaches the time."""

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait

from reviews.models import Comparison
from tests.factories import CategoryFactory, ReviewerFactory, ReviewFactory, ToolFactory, VendorFactory
from tests.test_docs_offline import browser  # noqa: F401 (the fixture)
from tests.test_editors import editors_group
from tools.models import Tool


def log_in(driver, live_server) -> None:
    """An editor's session (staff in the Editors group, no more) made by Django's test client, handed
    to the browser as its cookie."""
    staff = get_user_model().objects.create_user("editor", "editor@example.com", "not-a-secret", is_staff=True)
    staff.groups.add(editors_group())
    client = Client()
    client.force_login(staff)
    driver.get(live_server.url + "/admin/login/")  # the cookie's domain must be open first
    driver.add_cookie(
        {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value}
    )


def choose(driver, field: str, pk: int, text: str) -> None:
    """Pick a row in an autocomplete field: its <select> is what the form posts (select2 draws over it)."""
    driver.execute_script(
        "const select = document.getElementById(arguments[0]);"
        "select.add(new Option(arguments[2], arguments[1], true, true));"
        "select.dispatchEvent(new Event('change'));",
        f"id_{field}",
        str(pk),
        text,
    )


def fill(driver, values: dict[str, str]) -> None:
    for name, value in values.items():
        element = driver.find_element(By.NAME, name)
        element.clear()
        element.send_keys(value)


def save_and_continue(driver) -> None:
    button = driver.find_element(By.NAME, "_continue")
    button.click()
    # The click does not wait for the next page: wait until the old one is gone and the new one loaded.
    WebDriverWait(driver, 30).until(staleness_of(button))
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert "was added successfully" in driver.page_source or "was changed successfully" in driver.page_source, (
        driver.find_element(By.TAG_NAME, "body").text[:2000]
    )


def json_page(driver, url: str) -> dict:
    driver.get(url)
    return json.loads(driver.find_element(By.TAG_NAME, "pre").text)


def preview_link(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "a.preview-link").get_attribute("href")


def schedule(driver, at) -> None:
    local = timezone.localtime(at)
    fill(driver, {"publish_at_0": local.strftime("%Y-%m-%d"), "publish_at_1": local.strftime("%H:%M:%S")})
    save_and_continue(driver)


@pytest.mark.django_db(transaction=True)
def test_write_preview_schedule_and_see_it_go_live(browser, live_server, run_periodic, monkeypatch) -> None:  # noqa: F811
    vendor, category = VendorFactory(name="Acme AI", slug="acme-ai"), CategoryFactory(name="Assistants")
    rival = ToolFactory(slug="rival", name="Rival", category=category)
    reviewer = ReviewerFactory(slug="the-builder", name="The Builder")
    log_in(browser, live_server)

    # A tool, written in the admin: a draft, whatever the editor forgets to untick.
    browser.get(live_server.url + "/admin/tools/tool/add/")
    assert not browser.find_element(By.NAME, "is_published").is_selected()
    fill(browser, {"name": "Helper Pro", "slug": "helper-pro", "tagline": "Answers first."})
    choose(browser, "vendor", vendor.pk, vendor.name)
    choose(browser, "category", category.pk, category.name)
    Select(browser.find_element(By.NAME, "pricing_tier")).select_by_value("paid")
    save_and_continue(browser)
    tool = Tool.objects.get(slug="helper-pro")
    assert tool.is_published is False
    ReviewFactory(tool=tool, reviewer=reviewer, verdict="ship", body="Fast.")  # a published review of the draft
    ReviewFactory(tool=rival, reviewer=reviewer, verdict="skip", body="Slow.")
    tool_page = browser.current_url

    # Its preview is the tool document.
    browser.get(tool_page)
    preview = json_page(browser, preview_link(browser))
    assert (preview["slug"], preview["name"], preview["pricing"]["tier"]) == ("helper-pro", "Helper Pro", "paid")
    assert preview["panel"]["ship"] == 1
    assert browser.execute_script("return document.contentType") == "application/json"
    assert json_page(browser, live_server.url + "/api/v1/tools/helper-pro/")["errors"][0]["code"] == "not_found"

    # A curated comparison of the draft and a published tool: a draft too, previewed as the pair's document.
    browser.get(live_server.url + "/admin/reviews/comparison/add/")
    assert not browser.find_element(By.NAME, "is_published").is_selected()
    choose(browser, "left_tool", tool.pk, tool.name)
    choose(browser, "right_tool", rival.pk, rival.name)
    fill(browser, {"title": "Helper Pro vs Rival", "headline": "Which assistant answers first?"})
    save_and_continue(browser)
    comparison = Comparison.objects.get()
    assert comparison.is_published is False
    comparison_page = browser.current_url
    preview = json_page(browser, preview_link(browser))
    assert (preview["slug"], preview["curated"], preview["title"]) == (
        "helper-pro-vs-rival",
        True,
        "Helper Pro vs Rival",
    )
    assert [review["verdict"] for review in preview["scorecard"][0]["reviews"]] == ["ship", "skip"]
    assert json_page(browser, live_server.url + "/api/v1/comparisons/")["results"] == []

    # Scheduled for ten minutes from now: nothing happens before the time.
    start = timezone.now()
    at = (start + timedelta(minutes=10)).replace(microsecond=0)
    browser.get(tool_page)
    schedule(browser, at)
    browser.get(comparison_page)
    schedule(browser, at)
    assert list(Tool.objects.filter(slug="helper-pro").values_list("is_published", "publish_at")) == [(False, at)]
    clock = [start + timedelta(minutes=9)]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])
    run_periodic(now=clock[0])
    assert json_page(browser, live_server.url + "/api/v1/tools/helper-pro/")["errors"][0]["code"] == "not_found"

    # At the time, the job publishes both, and the API serves what the previews showed.
    clock[0] = at + timedelta(seconds=settings.PUBLISH_SCHEDULE_SECONDS)
    run_periodic(now=clock[0])
    monkeypatch.undo()
    live_tool = json_page(browser, live_server.url + "/api/v1/tools/helper-pro/")
    assert live_tool["slug"] == "helper-pro"
    live = json_page(browser, live_server.url + "/api/v1/comparisons/helper-pro-vs-rival/")
    assert live == preview
    listed = json_page(browser, live_server.url + "/api/v1/comparisons/")["results"]
    assert [row["slug"] for row in listed] == ["helper-pro-vs-rival"]
    changes = json_page(browser, live_server.url + "/api/v1/changes/")["results"]
    assert {"tool.published", "comparison.published"} <= {event["type"] for event in changes}

    # The admin says so: published, no schedule left, no preview link.
    browser.get(comparison_page)
    assert browser.find_element(By.NAME, "is_published").is_selected()
    assert browser.find_element(By.NAME, "publish_at_0").get_attribute("value") == ""
    assert "Published: the API serves it." in browser.page_source
