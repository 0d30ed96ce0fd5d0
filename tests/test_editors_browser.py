"""An editor in a real browser (Debian's chromium through Selenium): logs in to the admin, finds the
catalog, the panel and the votes, and no way into users, partner keys, webhooks or tokens."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.factories import UserFactory
from tests.test_docs_offline import browser  # noqa: F401 (the headless Chromium fixture)
from tests.test_editors import editors_group

PASSWORD = "an editor's long passphrase"


@pytest.mark.django_db(transaction=True)
def test_an_editor_logs_in_and_cannot_open_users_or_keys(browser, live_server) -> None:  # noqa: F811
    user = UserFactory(username="eddie", is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    user.groups.add(editors_group())

    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("eddie")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda driver: "Log in" not in driver.title)

    assert browser.title == "The catalog, the panel, the community and partners | AI Tool Verdicts staff"
    sections = [link.text for link in browser.find_elements(By.CSS_SELECTOR, "#content-main caption a")]
    assert sections == ["COMMUNITY VOTES", "PANEL REVIEWS AND COMPARISONS", "TOOLS"]  # CSS upper-cases captions
    assert "Users" not in browser.find_element(By.ID, "content-main").text
    assert "Partner" not in browser.find_element(By.ID, "content-main").text
    assert browser.find_element(By.LINK_TEXT, "VIEW SITE").get_attribute("href").endswith("/api/docs/")

    for page in ("/admin/auth/user/", "/admin/partners/partnerkey/", "/admin/webhooks/endpoint/"):
        browser.get(f"{live_server.url}{page}")
        assert '"permission_denied"' in browser.page_source, page

    # the change form's labels read as English
    browser.get(f"{live_server.url}/admin/tools/tool/add/")
    assert browser.find_element(By.CSS_SELECTOR, "label[for=id_price_from_usd]").text == "Lowest price (USD):"
