"""The status page in a real browser: Debian's headless Chromium driven by Selenium
through Debian's chromedriver (`scripts/ensure-browser`, run by `make test`, installs
both), against the real API (gunicorn) over a private stack with real chargers.

Without the browser the test skips, saying why; with CI set it fails instead, so a
CI machine that lost the browser cannot pass by skipping it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call

from tests.support.chargers import ChargerFactory
from tests.support.stack import free_port, private_stack, start_gunicorn

pytestmark = pytest.mark.slow

TOKEN = "status-page-token-" + uuid.uuid4().hex
HOSTILE_VENDOR = "<script>x</script>"  # a BootNotification's chargePointVendor: at most 20 characters
HOSTILE_DATA = '<script>document.title="owned"</script>'


def browser_paths() -> tuple[str, str]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    reason = "needs Debian's chromium and chromium-driver (scripts/ensure-browser installs them as root)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but the browser is missing: {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    chromium, driver_path = browser_paths()
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    service = Service(executable_path=driver_path, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def between_reloads(read: Callable[[], Any], tries: int = 5) -> Any:
    """`read` the page again when it reloaded itself (every 5 s) in the middle of it:
    the elements found before the reload are gone."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    for attempt in range(tries):
        try:
            return read()
        except (StaleElementReferenceException, NoSuchElementException):
            if attempt == tries - 1:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def page_text(driver: Any) -> str:
    """The text of the page as shown, read in one step (no element outlives a reload)."""
    return str(driver.execute_script("return document.body ? document.body.innerText : ''"))


def transaction_rows(driver: Any) -> list[list[str]]:
    """The cells of the front page's active transactions, row by row."""
    from selenium.webdriver.common.by import By

    def read() -> list[list[str]]:
        rows = driver.find_elements(By.CSS_SELECTOR, "table.transactions tbody tr")
        return [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]

    return list(between_reloads(read))


def cell_of(driver: Any, cp_id: str, column: str) -> str:
    """The text of one column (its class) in a charger's row of the front page."""
    from selenium.webdriver.common.by import By

    def read() -> str:
        for row in driver.find_elements(By.CSS_SELECTOR, "table.chargers tr.charger"):
            if row.find_element(By.CSS_SELECTOR, "td.id").text == cp_id:
                return str(row.find_element(By.CSS_SELECTOR, f"td.{column}").text)
        raise AssertionError(f"{cp_id} is not on the page")

    return str(between_reloads(read))


@pytest.mark.timeout(90)
async def test_status_page_in_a_browser(browser, tmp_path):
    from selenium.webdriver.common.by import By

    with private_stack(tmp_path, {}) as (stack, _store):
        port = free_port()
        api = start_gunicorn({**stack.env, "API_TOKEN": TOKEN}, tmp_path, port)
        base = f"http://127.0.0.1:{port}"
        chargers = ChargerFactory(stack.ws_url)
        try:
            charging = await chargers.connect("PAGE-CP1")
            hostile = await chargers.connect("PAGE-CP2", boot=False, connectors=1)
            await hostile.call(
                call.BootNotification(charge_point_vendor=HOSTILE_VENDOR, charge_point_model="M")
            )
            await hostile.status(1, "Available")
            await hostile.call(call.DataTransfer(vendor_id="com.example", data=HOSTILE_DATA))
            tx_id = await charging.start_session(1, "PAGE-TAG")
            await charging.meter(1, 2500)  # 2.50 kWh so far

            def front_page() -> str:
                browser.get(base + "/")
                # no token yet: the login form, and the token never goes into a URL
                assert browser.current_url == base + "/login"
                field = browser.find_element(By.NAME, "token")
                field.send_keys(TOKEN)
                field.submit()
                wait_for(lambda: browser.find_elements(By.ID, "charger-count"), "the front page")
                assert TOKEN not in browser.current_url
                cookie = browser.get_cookie("csms_session")
                assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
                return page_text(browser)

            text = await asyncio.to_thread(front_page)
            assert "PAGE-CP1" in text and "PAGE-CP2" in text
            assert "1: Charging" in text and "2: Available" in text  # connector statuses
            rows = await asyncio.to_thread(transaction_rows, browser)
            assert [str(tx_id), "PAGE-CP1", "1", "PAGE-TAG"] == rows[0][:4]
            assert rows[0][-1] == "2.50 kWh so far"
            vendor_cell = await asyncio.to_thread(cell_of, browser, "PAGE-CP2", "vendor")
            assert vendor_cell.startswith(HOSTILE_VENDOR)  # shown as the text it is
            assert await asyncio.to_thread(browser.find_elements, By.TAG_NAME, "script") == []

            # The page refreshes itself: a new status shows up without our reloading it.
            await charging.status(2, "Unavailable")
            body = await asyncio.to_thread(
                wait_for, lambda: "2: Unavailable" in page_text(browser), "the refresh", 12
            )
            assert body
            front = tmp_path / "status-page.png"
            await asyncio.to_thread(browser.save_screenshot, str(front))

            def charger_page() -> str:
                between_reloads(lambda: browser.find_element(By.LINK_TEXT, "PAGE-CP2").click())
                wait_for(lambda: browser.current_url.endswith("/chargers/PAGE-CP2"), "the charger page")
                wait_for(lambda: "DataTransfer" in page_text(browser), "its messages", 12)
                return page_text(browser)

            text = await asyncio.to_thread(charger_page)
            assert HOSTILE_DATA.replace('"', '\\"') in text  # the frame as sent, as text
            assert "BootNotification" in text and "StatusNotification" in text
            assert await asyncio.to_thread(browser.execute_script, "return document.title") != "owned"
            page = tmp_path / "charger-page.png"
            await asyncio.to_thread(browser.save_screenshot, str(page))
            print(f"\nscreenshots: {front} {page}")

            def log_out() -> str:
                between_reloads(lambda: browser.find_element(By.XPATH, "//button[text()='Log out']").click())
                wait_for(lambda: browser.current_url.endswith("/login"), "the login page")
                browser.get(base + "/")
                return str(browser.current_url)

            assert (await asyncio.to_thread(log_out)).endswith("/login")
        finally:
            await chargers.close_all()
            api.stop()
