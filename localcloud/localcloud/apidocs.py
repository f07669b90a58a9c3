"""The API's OpenAPI document and a browsable UI for it, served by the gateway without a token: `GET
/openapi.json` (the committed document, `docs/openapi.json` beside the template, byte for byte) and `GET
/docs` (Swagger UI, its "Try it out" aimed at this local cloud).

Nothing is fetched from the internet: the UI's script and stylesheet are the copies Powertools ships for its
own `enable_swagger` (the same page, offline), served from the package. A template route on either path
wins: these answer only what the template does not route."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

__all__ = ["DOCS_PATH", "DOCUMENT_PATH", "ApiDocs", "document_beside"]

DOCUMENT_PATH = "/openapi.json"
DOCS_PATH = "/docs"
# Found without importing Powertools into the local cloud's process: the page's generator is imported only
# when the page is asked for.
_POWERTOOLS = find_spec("aws_lambda_powertools")
if _POWERTOOLS is None or _POWERTOOLS.origin is None:
    raise ImportError("the API docs page needs aws-lambda-powertools (requirements-dev.txt)")
ASSETS = Path(_POWERTOOLS.origin).parent / "event_handler" / "openapi" / "swagger_ui"
ASSET_TYPES = {"swagger-ui-bundle.min.js": "text/javascript", "swagger-ui.min.css": "text/css"}


def document_beside(template: Path) -> Path | None:
    """The project's convention: the document is docs/openapi.json next to template.yaml."""
    path = template.parent / "docs" / "openapi.json"
    return path if path.is_file() else None


class ApiDocs:
    def __init__(self, document: Path) -> None:
        self.document = document

    def answer(self, request: Request) -> Response | None:
        """The answer to a GET of the document, the UI or its assets; None for anything else."""
        if request.method not in ("GET", "HEAD"):
            return None
        if request.path == DOCUMENT_PATH or (
            request.path == DOCS_PATH and request.args.get("format") == "json"
        ):
            return Response(self.document.read_bytes(), content_type="application/json")
        if request.path == DOCS_PATH:
            return Response(self._page(request.host_url), content_type="text/html; charset=utf-8")
        name = request.path.removeprefix(DOCS_PATH + "/")
        if name in ASSET_TYPES:
            response = Response((ASSETS / name).read_bytes(), content_type=ASSET_TYPES[name])
            response.headers["Cache-Control"] = "public, max-age=3600"
            return response
        return None

    def _page(self, origin: str) -> str:
        # "Try it out" sends requests to the first server: this local cloud, on whatever port it listens.
        document = json.loads(self.document.read_text())
        document["servers"] = [{"url": origin.rstrip("/"), "description": "this local cloud"}]
        from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

        # Escaped as Powertools does: the document is inlined into a <script>.
        spec = json.dumps(document).replace("</", "<\\/")
        return generate_swagger_html(
            spec,
            f"{DOCS_PATH}/swagger-ui-bundle.min.js",
            f"{DOCS_PATH}/swagger-ui.min.css",
            DOCS_PATH,  # a base URL: link the assets instead of inlining 1.7 MB into every page
            None,
            persist_authorization=True,
        )
