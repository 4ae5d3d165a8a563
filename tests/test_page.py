"""The search page of ``searchlib serve``, in a real headless browser: Debian's chromium, driven by Selenium.

Set ``SEARCHLIB_SCREENSHOT=docs/search-page.png`` to also save the README's screenshot there.
"""

import os
from pathlib import Path

import httpx
import pytest
from conftest import CORPUS, start_server

from searchlib import Document, create_index

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.slow

NOTE = Document(
    id="notes/fête.txt",
    title="Note 🎉 du jour",
    text="🎉🎉 Les victimes exploitées et protégées par l’OSCE à Vienne. <b>Gras</b> & <img src=x onerror=alert(1)>",
)
ENGLISH = Document(id="en/report.txt", title="Report", text="The victims of human trafficking were protected.", lang="en")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A server over the bundled article, a note with emoji and markup, and an English report."""
    index = create_index(tmp_path_factory.mktemp("page") / "index")
    index.add([CORPUS, NOTE, ENGLISH])
    url, stop = start_server(index.path)
    yield url
    stop()


@pytest.fixture(scope="module")
def browser():
    for program in (CHROMIUM, CHROMEDRIVER):
        if not program.exists():
            pytest.skip(f"{program} is absent; install the browser with: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    # Selenium Manager would otherwise try to download a driver and send statistics.
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_window_size(1200, 900)
    yield driver
    driver.quit()


def wait(driver, condition, timeout=30):
    """Wait until ``condition(driver)`` holds; elements replaced while it reads them mean: not yet."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def search_for(driver, site, query):
    """Type ``query`` in the box, press Enter, and wait for the page to answer."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(site + "/")
    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(query, Keys.ENTER)
    wait(driver, lambda d: d.find_element(By.ID, "summary").text or d.find_element(By.ID, "error").is_displayed())


def shown_hits(driver):
    """Each hit on the page: document, passage, text as shown, and the marked words."""
    from selenium.webdriver.common.by import By

    hits = []
    for item in driver.find_elements(By.CSS_SELECTOR, "#hits li.hit"):
        text = item.find_element(By.CSS_SELECTOR, ".text")
        hits.append(
            (
                item.get_attribute("data-doc"),
                int(item.get_attribute("data-passage")),
                text.get_attribute("textContent"),
                [mark.get_attribute("textContent") for mark in text.find_elements(By.TAG_NAME, "mark")],
            )
        )
    return hits


def api_hits(site, **params):
    answer = httpx.get(site + "/search", params={"limit": 10, **params}).json()
    return [(h["doc_id"], h["passage"], h["text"], [h["text"][s:e] for s, e in h["matches"]]) for h in answer["hits"]]


def test_page_marks_the_matched_words_as_written(browser, site, tmp_path):
    search_for(browser, site, "victimes exploiter")
    shown = shown_hits(browser)
    assert shown == api_hits(site, q="victimes exploiter")
    # The note's marks land on its words even after emoji (two UTF-16 units each), and its markup is text.
    [note] = [hit for hit in shown if hit[0] == NOTE.id]
    assert note[2] == NOTE.text and note[3] == ["victimes", "exploitées"]
    from selenium.webdriver.common.by import By

    tags = {e.tag_name for e in browser.find_elements(By.CSS_SELECTOR, "#hits .text *")}
    assert tags == {"mark"}
    assert "exploités" in [word for hit in shown for word in hit[3]]
    browser.save_screenshot(str(tmp_path / "page.png"))
    assert (tmp_path / "page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_page_a_facet_click_filters_by_that_entity(browser, site, tmp_path):
    from selenium.webdriver.common.by import By

    search_for(browser, site, "victimes")
    before = shown_hits(browser)
    answer = httpx.get(site + "/search", params={"q": "victimes"}).json()
    mentions = sum(1 for hit in answer["hits"] if {"text": "OSCE", "label": "ORG"} in hit["entities"])
    assert 0 < mentions < len(answer["hits"])
    facets = browser.find_elements(By.CSS_SELECTOR, "#facet-list .facet")
    # Each facet counts the hits shown that mention its entity.
    [osce] = [facet for facet in facets if facet.text.split() == ["OSCE", "ORG", str(mentions)]]
    osce.click()
    wait(browser, lambda d: "entity=OSCE" in d.current_url and shown_hits(d) != before)
    assert "type=ORG" in browser.current_url
    expected = api_hits(site, q="victimes", entity="OSCE", type="ORG")
    assert shown_hits(browser) == expected and len(expected) < len(before)
    chip = browser.find_element(By.CSS_SELECTOR, "#filters .chip.active")
    assert chip.text == "entity: OSCE (ORG) ✕"
    chip.click()
    wait(browser, lambda d: "entity=" not in d.current_url and shown_hits(d) == before)


def test_page_shows_the_error_of_a_malformed_query(browser, site):
    from selenium.webdriver.common.by import By

    search_for(browser, site, '"Convention de')
    error = browser.find_element(By.ID, "error")
    assert error.is_displayed()
    assert error.text == 'unbalanced quote: a phrase opened with " is never closed; add the closing "'
    assert shown_hits(browser) == []


def test_page_offers_the_suggestion_and_follows_it(browser, site):
    from selenium.webdriver.common.by import By

    search_for(browser, site, "victimmes")
    assert browser.find_element(By.ID, "summary").text == "No results for “victimmes”."
    link = browser.find_element(By.ID, "suggested")
    assert browser.find_element(By.ID, "suggestion").text == "Did you mean victimes?"
    link.click()
    wait(browser, lambda d: shown_hits(d))
    assert browser.find_element(By.ID, "q").get_attribute("value") == "victimes"
    assert shown_hits(browser) == api_hits(site, q="victimes")


def test_page_next_page_continues_the_ranking(browser, site):
    from selenium.webdriver.common.by import By

    search_for(browser, site, "traite")
    total = httpx.get(site + "/search", params={"q": "traite"}).json()["total"]
    assert total > 10
    assert browser.find_element(By.ID, "summary").text == f"1–10 of {total} matching passages"
    assert not browser.find_element(By.ID, "prev").is_displayed()
    browser.find_element(By.ID, "next").click()
    wait(browser, lambda d: "offset=10" in d.current_url and d.find_element(By.ID, "summary").text.startswith("11–"))
    assert shown_hits(browser) == api_hits(site, q="traite", offset=10)
    assert browser.find_element(By.ID, "summary").text == f"11–{total} of {total} matching passages"
    assert not browser.find_element(By.ID, "next").is_displayed()
    browser.back()
    wait(browser, lambda d: d.find_element(By.ID, "summary").text.startswith("1–10"))


def test_page_language_filter(browser, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(site + "/")
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#lang option")) == 3)
    select = Select(browser.find_element(By.ID, "lang"))
    assert [o.text for o in select.options] == ["all", "en (1)", "fr (25)"]
    select.select_by_value("en")
    browser.find_element(By.ID, "q").send_keys("victims\n")
    wait(browser, lambda d: shown_hits(d))
    assert "lang=en" in browser.current_url
    assert shown_hits(browser) == api_hits(site, q="victims", lang="en")
    assert [hit[0] for hit in shown_hits(browser)] == [ENGLISH.id]


def test_page_fits_a_phone_screen(browser, site, tmp_path):
    browser.set_window_size(390, 844)
    try:
        search_for(browser, site, "victimes de la traite")
        assert shown_hits(browser)
        width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width
        browser.save_screenshot(str(tmp_path / "phone.png"))
    finally:
        browser.set_window_size(1200, 900)


def test_page_screenshot(browser, site, tmp_path):
    """The page as the README shows it; ``SEARCHLIB_SCREENSHOT=docs/search-page.png`` saves it there too."""
    from selenium.webdriver.common.by import By

    search_for(browser, site, "victimes de la traite")
    assert browser.find_element(By.ID, "facets").is_displayed()
    for target in filter(None, [tmp_path / "page.png", os.environ.get("SEARCHLIB_SCREENSHOT")]):
        assert browser.save_screenshot(str(target))
        assert Path(target).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
