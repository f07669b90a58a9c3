"""The console in a real headless browser (Debian's Chromium, driven by Playwright): the page loads and
shows the stack's functions, and an order placed through the gateway appears in the recent invocations and,
in the stream browser, as a timeline across the event logs of every context it touched."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.support.orders import ADDRESS
from tests.support.polling import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from playwright.sync_api import Page

    from localcloud import LocalCloud

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def page(cloud: LocalCloud) -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{cloud.gateway_url}/_localcloud/console/")
        yield page
        browser.close()


@pytest.fixture(scope="module")
def order(cloud: LocalCloud) -> dict[str, Any]:
    """An order placed through the gateway, once its saga has confirmed it."""
    headers = {"Authorization": f"Bearer {cloud.token('console-customer')}"}
    body = {
        "lines": [{"sku": "SKU-TEA-001", "quantity": 1}],
        "shipping_address": dict(ADDRESS),
    }
    placed = requests.post(f"{cloud.gateway_url}/orders", json=body, headers=headers, timeout=60)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]

    def confirmed() -> dict[str, Any] | None:
        response = requests.get(f"{cloud.gateway_url}/orders/{order_id}", headers=headers, timeout=60)
        return (
            response.json()
            if response.status_code == 200 and response.json()["status"] == "confirmed"
            else None
        )

    return wait_until(confirmed, timeout=60)


def test_the_page_shows_every_function_of_the_stack(cloud: LocalCloud, page: Page) -> None:
    rows = page.locator("#functions tbody tr")
    rows.nth(len(cloud.functions.specs) - 1).wait_for()
    assert rows.count() == len(cloud.functions.specs)
    names = page.locator("#functions tbody td:first-child").all_inner_texts()
    assert set(names) == set(cloud.functions.specs)
    assert page.locator("#triggers tbody tr").count() == len(cloud.pollers)
    assert (
        "OrderCommandsDeadLetterQueue" in page.locator("#dlqs").inner_text()
        or page.locator("#dlqs tbody tr").count() > 0
    )


def test_an_order_placed_appears_in_the_invocations(page: Page, order: dict[str, Any]) -> None:
    placed = page.locator("#invocations tbody tr", has_text="http POST /orders").first
    placed.wait_for()
    assert "201" in placed.inner_text()
    confirmed = page.locator("#invocations tbody tr", has_text=order["order_id"]).first
    confirmed.wait_for()


def test_the_stream_browser_tells_the_orders_story_across_contexts(
    page: Page, order: dict[str, Any], tmp_path: Path
) -> None:
    page.fill("#story-id", order["order_id"])
    page.click("#story-form button")
    timeline = page.locator("#timeline li")
    page.locator("#timeline li", has_text="OrderConfirmed").wait_for()
    text = page.locator("#timeline").inner_text()
    for event_type in ("OrderCreated", "PaymentAuthorized", "OrderConfirmed"):
        assert event_type in text
    assert text.index("OrderCreated") < text.index("PaymentAuthorized") < text.index("OrderConfirmed")
    assert "OrdersEventLog" in text
    assert "PaymentsEventLog" in text
    assert timeline.count() >= 3
    shot = tmp_path / "console.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
