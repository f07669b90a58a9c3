"""The API's document and its browsable UI, served by the local cloud's gateway without a token: GET
/openapi.json is the committed docs/openapi.json, byte for byte, and GET /docs is Swagger UI, which renders
every operation in a real headless browser (Debian's Chromium) with every request that would leave this
machine refused: nothing is fetched from the internet."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import requests

from ops.openapi import DOCUMENT
from tests.e2e.test_console import CHROMIUM, CHROMIUM_FLAGS, TIMEOUT_MS

if TYPE_CHECKING:
    from playwright.sync_api import Route

    from localcloud import LocalCloud

pytestmark = pytest.mark.slow


def test_the_document_is_served_without_a_token(cloud: LocalCloud) -> None:
    response = requests.get(f"{cloud.gateway_url}/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == DOCUMENT.read_bytes()


def test_the_ui_and_its_assets_are_served_without_a_token(cloud: LocalCloud) -> None:
    page = requests.get(f"{cloud.gateway_url}/docs", timeout=30)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "/docs/swagger-ui-bundle.min.js" in page.text
    for asset, kind in (("swagger-ui-bundle.min.js", "text/javascript"), ("swagger-ui.min.css", "text/css")):
        response = requests.get(f"{cloud.gateway_url}/docs/{asset}", timeout=30)
        assert (response.status_code, response.headers["Content-Type"].split(";")[0]) == (200, kind)


def test_a_post_to_the_document_is_no_route(cloud: LocalCloud) -> None:
    response = requests.post(f"{cloud.gateway_url}/openapi.json", timeout=30)
    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})


def test_the_ui_renders_every_operation_offline(cloud: LocalCloud) -> None:
    from playwright.sync_api import sync_playwright

    local = urlsplit(cloud.gateway_url).netloc
    left_the_machine: list[str] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).netloc == local or route.request.url.startswith("data:"):
            route.continue_()
        else:
            left_the_machine.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.route("**/*", only_local)
            page.goto(f"{cloud.gateway_url}/docs")
            page.wait_for_selector(".opblock")
            operations = page.locator(".opblock").count()
            title = page.locator(".info .title").inner_text()
        finally:
            browser.close()
    document = json.loads(DOCUMENT.read_text())
    assert operations == sum(len(item) for item in document["paths"].values())
    assert title.startswith("Orders microsystem API")
    assert left_the_machine == []
