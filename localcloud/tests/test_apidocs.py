"""The gateway's API documentation pages: the document next to the template, byte for byte; Swagger UI, its
assets served from the Powertools package (no CDN), its "Try it out" aimed at the cloud that serves it; and
nothing at all for a template without a document."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from localcloud.apidocs import ApiDocs, document_beside

if TYPE_CHECKING:
    from pathlib import Path

DOCUMENT = {"openapi": "3.1.0", "info": {"title": "</script> test", "version": "1"}, "paths": {}}


@pytest.fixture
def docs(tmp_path: Path) -> ApiDocs:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "openapi.json").write_text(json.dumps(DOCUMENT))
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    found = document_beside(tmp_path / "template.yaml")
    assert found is not None
    return ApiDocs(found)


def request(method: str, path: str) -> Request:
    return Request(EnvironBuilder(method=method, path=path, base_url="http://127.0.0.1:4123").get_environ())


def test_the_document_is_the_file_as_it_is(docs: ApiDocs) -> None:
    response = docs.answer(request("GET", "/openapi.json"))
    assert response is not None
    assert (response.status_code, response.mimetype) == (200, "application/json")
    assert response.get_data() == docs.document.read_bytes()


def test_the_page_links_the_packaged_assets_and_tries_requests_on_this_cloud(docs: ApiDocs) -> None:
    response = docs.answer(request("GET", "/docs"))
    assert response is not None
    page = response.get_data(as_text=True)
    assert "<script src='/docs/swagger-ui-bundle.min.js'>" in page
    assert "https://" not in page  # no CDN
    assert '"url": "http://127.0.0.1:4123"' in page
    assert "</script> test" not in page  # the document cannot close the page's script


@pytest.mark.parametrize("asset", ["swagger-ui-bundle.min.js", "swagger-ui.min.css"])
def test_the_assets_are_served_from_the_package(docs: ApiDocs, asset: str) -> None:
    response = docs.answer(request("GET", f"/docs/{asset}"))
    assert response is not None
    assert response.status_code == 200
    assert len(response.get_data()) > 100_000


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/openapi.json"),
        ("DELETE", "/docs"),
        ("GET", "/docs/../template.yaml"),
        ("GET", "/docs/x.js"),
    ],
)
def test_anything_else_is_left_to_the_gateway(docs: ApiDocs, method: str, path: str) -> None:
    assert docs.answer(request(method, path)) is None


def test_a_template_without_a_document_has_no_pages(tmp_path: Path) -> None:
    assert document_beside(tmp_path / "template.yaml") is None
