"""The documentation pages in a real browser (Debian's chromium, through Selenium and chromedriver):
every request either page makes goes to our own server, and the page renders the API."""

import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture
def browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("chromium and chromium-driver are needed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver) -> list[str]:
    """Every URL the page asked the network for (Chrome DevTools' Network.requestWillBeSent)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def load(driver, url: str, ready: str) -> str:
    driver.get(url)
    deadline = time.monotonic() + 30
    while ready not in driver.page_source:
        assert time.monotonic() < deadline, f"{url} did not render {ready!r}"
        time.sleep(0.2)
    time.sleep(1)  # images and fonts the rendered page asks for after the text is there
    return driver.page_source


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("page", "ready"), [("/api/docs/", "Compare two to four tools"), ("/api/redoc/", "Compare two to four tools")]
)
def test_the_docs_request_nothing_from_another_host(browser, live_server, page: str, ready: str) -> None:
    call_command("seed", verbosity=0)
    load(browser, live_server.url + page, ready)
    urls = requested_urls(browser)
    ours = urlsplit(live_server.url).netloc
    network = [url for url in urls if urlsplit(url).scheme in ("http", "https", "ws", "wss")]
    assert f"{live_server.url}/api/schema/" in network
    assert [url for url in network if urlsplit(url).netloc != ours] == []
