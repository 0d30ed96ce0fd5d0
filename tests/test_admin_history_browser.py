"""An editor corrects a published verdict in a real browser (Debian's chromium, through Selenium):
the admin asks for a correction note, the API shows it, the history shows the diff, and a revert
puts the old verdict back (with a note of its own)."""

import json

import pytest
from django.core.management import call_command

from reviews.models import Review
from tests.test_docs_offline import browser  # noqa: F401 (the fixture)

SEED = "/api/v1/comparisons/code-llama-4-vs-mistral-large-3/"


def submit(driver, name: str = "_save") -> None:
    """Click a form's submit button and wait for the next page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.NAME, name).click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))


def api_json(driver, url: str) -> dict:
    from selenium.webdriver.common.by import By

    driver.get(url)
    return json.loads(driver.find_element(By.TAG_NAME, "body").text)


@pytest.mark.django_db(transaction=True)
def test_correct_a_published_verdict_see_the_diff_and_revert_it(browser, live_server, django_user_model) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    call_command("seed", verbosity=0)
    django_user_model.objects.create_superuser("editor", "editor@example.com", "a-long-test-password")
    review = Review.objects.get(reviewer__slug="the-buyer", tool__slug="code-llama-4")
    assert review.verdict == "skip"

    # Log in through the admin's own form.
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.ID, "id_username").send_keys("editor")
    browser.find_element(By.ID, "id_password").send_keys("a-long-test-password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert browser.find_element(By.ID, "user-tools").text.upper().startswith("WELCOME, EDITOR")

    # Change the published verdict: the form asks for a correction note.
    change = f"{live_server.url}/admin/reviews/review/{review.pk}/change/"
    browser.get(change)
    Select(browser.find_element(By.ID, "id_verdict")).select_by_value("ship")
    submit(browser)
    assert browser.current_url == change
    errors = browser.find_element(By.CSS_SELECTOR, ".field-correction_note .errorlist").text
    assert errors == "This review is published: say what changed in its verdict and why."

    note = "Meta now sells hosted inference for Code Llama 4: there is a business here after all."
    browser.find_element(By.ID, "id_correction_note").send_keys(note)
    submit(browser)
    assert browser.current_url == f"{live_server.url}/admin/reviews/review/"
    review.refresh_from_db()
    assert (review.verdict, review.correction) == ("ship", note)

    # The API's scorecard shows the correction with the review.
    entry = api_json(browser, live_server.url + SEED)["scorecard"][3]["reviews"][0]
    assert (entry["verdict"], entry["correction"]) == ("ship", note)
    assert entry["updated_at"].startswith(f"{review.corrected_at:%Y-%m-%dT%H:%M}")

    # The history shows who changed what, from what to what.
    browser.get(f"{live_server.url}/admin/reviews/review/{review.pk}/history/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#change-history tbody tr")
    assert len(rows) == 2  # the seed's creation, then the correction
    latest = " ".join(rows[0].text.split())  # the template pads the arrow with non-breaking spaces
    assert "editor" in latest
    assert "Verdict: skip → ship" in latest
    assert f"Latest correction: → {note}" in latest

    # Revert to the seed's version: it is a correction too, so it asks for its own note.
    rows[1].find_element(By.TAG_NAME, "a").click()
    assert Select(browser.find_element(By.ID, "id_verdict")).first_selected_option.get_attribute("value") == "skip"
    browser.find_element(By.ID, "id_correction_note").send_keys(
        "Reverted: the hosted offer is a partner's, not Meta's."
    )
    submit(browser)
    review.refresh_from_db()
    assert (review.verdict, review.correction) == ("skip", "Reverted: the hosted offer is a partner's, not Meta's.")
    entry = api_json(browser, live_server.url + SEED)["scorecard"][3]["reviews"][0]
    assert (entry["verdict"], entry["correction"]) == ("skip", "Reverted: the hosted offer is a partner's, not Meta's.")
    browser.get(f"{live_server.url}/admin/reviews/review/{review.pk}/history/")
    reverted = browser.find_elements(By.CSS_SELECTOR, "#change-history tbody tr")[0].text
    assert "Verdict: ship → skip" in " ".join(reverted.split())
