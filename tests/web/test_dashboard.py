"""The dashboard in a real browser: headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium pointed at /usr/bin/chromedriver so that nothing is
downloaded) against `pipeline up` under a small load. The numbers move; once the load has
stopped the accepted count shown equals /metrics; a posted bad row appears in the list
and opens whole; the console has no errors; nothing loads from outside the machine. A
screenshot is saved under the test's temp dir (and to $DASHBOARD_SCREENSHOT if set: the
README's picture is made this way)."""

import json
import os
import shutil
import threading
import time

import pytest

from conftest import INGEST_KEY, READ_KEY

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (scripts/test.sh installs it)")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def browser(tmp_path):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(f"no browser here: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)")
    options = Options()
    options.binary_location = CHROMIUM
    # Headless, and quiet on a closed network (no background fetches of Google's services).
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions", f"--user-data-dir={tmp_path / 'chromium-profile'}",
                 "--window-size=1400,1800"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def post_events(pipeline, events):
    status, body = pipeline.request("POST", "/v1/events", json.dumps(events).encode(), INGEST_KEY)
    assert status == 200, body


def small_load(pipeline, seconds, stop):
    """About 400 events a second in batches of 20, for `seconds`."""
    n = 0
    end = time.time() + seconds
    while time.time() < end and not stop.is_set():
        post_events(pipeline, [{"event_type": "pageview", "user_id": f"web-{(n + i) % 37}",
                                "page": {"url": "https://example.com/a"}} for i in range(20)])
        n += 20
        time.sleep(0.05)


def shown(driver, element_id):
    return driver.find_element(By.ID, element_id).get_attribute("data-value")


def test_the_dashboard_shows_the_pipeline_moving(pipeline, browser, tmp_path):
    stop = threading.Event()
    load = threading.Thread(target=small_load, args=(pipeline, 8, stop))
    load.start()
    try:
        browser.get(pipeline.base + "/")
        wait = WebDriverWait(browser, 60, poll_frequency=0.25)
        # The numbers move while the load runs.
        wait.until(lambda d: (shown(d, "accepted") or "0") not in ("", "0"))
        first = int(shown(browser, "accepted"))
        wait.until(lambda d: int(shown(d, "accepted") or 0) > first)
    finally:
        stop.set()
        load.join()

    # The read key, asked once, opens the bad rows and the aggregates.
    browser.find_element(By.ID, "read-key").send_keys(READ_KEY)
    browser.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    post_events(pipeline, [{"event_type": "purchase", "user_id": "web-bad", "order_id": "o-1", "amount": -3,
                            "currency": "usd", "items": [{"sku": "a", "quantity": 1, "price": 1}]}])
    accepted = pipeline.metric("pipeline_events_accepted_total")
    wait = WebDriverWait(browser, 60, poll_frequency=0.25)
    wait.until(lambda d: shown(d, "accepted") == str(accepted))
    assert int(shown(browser, "accepted")) == pipeline.metric("pipeline_events_accepted_total")

    wait.until(lambda d: "purchase" in d.find_element(By.ID, "bad-table").text)
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#bad-table tbody tr") if "purchase" in r.text)
    assert "schema_violation" in row.text
    row.click()
    detail = json.loads(browser.find_element(By.ID, "bad-detail").text)
    assert detail["event_type"] == "purchase" and detail["type"] == "schema_violation"
    assert any(e["path"] == "/amount" for e in detail["errors"])

    wait.until(lambda d: "pageview" in d.find_element(By.ID, "agg-day").text)
    # Let the charts draw a few more samples for the picture.
    time.sleep(2)
    screenshot = tmp_path / "dashboard.png"
    browser.save_screenshot(str(screenshot))
    if os.environ.get("DASHBOARD_SCREENSHOT"):
        shutil.copy(screenshot, os.environ["DASHBOARD_SCREENSHOT"])

    # No JavaScript error, no failed request, and nothing fetched from outside this server.
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
    requested = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
    # chrome:// pages are the browser's own (its new-tab page); every fetch over the network
    # must be this server's.
    network = [url for url in requested if url.split(":", 1)[0] in ("http", "https", "ws", "wss")]
    outside = [url for url in network if not url.startswith(pipeline.base)]
    assert any(url.startswith(pipeline.base + "/v1/stats") for url in network), network
    assert outside == [], outside


def test_the_ingest_key_does_not_open_the_stored_data(pipeline, browser):
    browser.get(pipeline.base + "/")
    browser.find_element(By.ID, "read-key").send_keys(INGEST_KEY)
    browser.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    wait = WebDriverWait(browser, 30, poll_frequency=0.25)
    wait.until(lambda d: "not the read key" in d.find_element(By.ID, "key-error").text)
    assert browser.find_element(By.ID, "keyed-panels").get_attribute("hidden") is not None
    assert browser.execute_script("return sessionStorage.getItem('pipeline.read_key')") is None
