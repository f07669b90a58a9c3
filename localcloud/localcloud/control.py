"""The local cloud's own paths under /_localcloud/ (health, invoke, the issuer's discovery document and JWKS,
the console), and what it says about itself: the health document and the banner."""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from localcloud.console import ConsoleApi
from localcloud.template import STACK_NAME, TemplateError
from localcloud.tokens import discovery_document

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from localcloud.cloud import LocalCloud

__all__ = ["Control"]


class Control:
    def __init__(self, cloud: LocalCloud) -> None:
        self._cloud = cloud

    def health(self) -> dict[str, Any]:
        cloud = self._cloud
        functions = cloud.functions.runtimes if hasattr(cloud, "functions") else {}
        return {
            "ready": cloud.ready and all(runtime.ready for runtime in functions.values()),
            "template": str(cloud.template_path),
            "region": cloud.region,
            "pid": os.getpid(),
            "gateway": cloud.gateway.url if cloud.gateway else None,
            "state": str(cloud.state.path) if cloud.state else None,
            "functions": {
                logical_id: {
                    "ready": runtime.ready,
                    "workers": runtime.workers,
                    "init_error": runtime.last_init_error,
                }
                for logical_id, runtime in functions.items()
            },
        }

    def banner(self) -> str:
        cloud = self._cloud
        lines = [f"localcloud: {cloud.template_path} (region {cloud.region}) is ready"]
        if cloud.gateway is not None:
            lines.append(f"  gateway   {cloud.gateway_url}")
            for route in cloud.gateway.routes:
                auth = route.authorizer.kind if route.authorizer else "open"
                scopes = f" scopes {' '.join(route.scopes)}" if route.scopes else ""
                function = route.function_arn.rsplit(":", 1)[-1]
                lines.append(f"            {route.display:<40} -> {function} ({auth}{scopes})")
            lines.append(f"  console   {cloud.gateway_url}/_localcloud/console/")
            if cloud.gateway.docs is not None:
                lines.append(f"  api docs  {cloud.gateway_url}/docs  (the OpenAPI document: /openapi.json)")
        lines.append(f"  moto      {cloud.endpoint_url}  (AWS_ENDPOINT_URL for your own clients)")
        lines.append(f"  functions {len(cloud.specs)}: {', '.join(sorted(cloud.specs))}")
        for note in cloud.skipped:
            lines.append(f"            skipped {note}")
        kinds = sorted({poller.trigger.split(" ")[0] for poller in cloud.pollers})
        lines.append(f"  triggers  {len(cloud.pollers)} pollers ({', '.join(kinds) or 'none'})")
        if cloud.scheduler is not None and cloud.scheduler.schedules:
            lines.append(f"  schedules {', '.join(cloud.scheduler.schedules)}")
        if cloud.state is not None:
            lines.append(f"  state     {cloud.state.path} (function logs: {cloud.state.function_logs_file})")
        try:
            cloud.authorizer()
            lines.append(f"  token     {sys.executable} -m localcloud token --customer alice")
        except TemplateError:
            pass
        lines.append("  stop      Ctrl-C")
        return "\n".join(lines)

    def handle(self, path: str, request: Request) -> Response | None:
        cloud = self._cloud
        if path == "health":
            return _json(self.health())
        if path.startswith("invoke/") and request.method == "POST":
            try:
                invocation = cloud.invoke(path[len("invoke/") :], json.loads(request.get_data() or b"{}"))
            except KeyError as exc:
                return _json({"message": str(exc.args[0])}, 404)
            body = {"status": invocation.status, "payload": invocation.payload, "error": invocation.error}
            return _json(body)
        if path == "oidc/.well-known/openid-configuration":
            issuer, _ = cloud.token_settings()
            return _json(
                discovery_document(issuer, f"{request.host_url.rstrip('/')}/_localcloud/oidc/jwks.json")
            )
        if path == "oidc/jwks.json":
            return _json(cloud.issuer.key.jwks())
        if path == "api/stack":
            return _json(self.stack())
        if path == "api/regions" or path.startswith("api/regions/"):
            return self._regions(path.removeprefix("api/regions").strip("/"), request)
        return ConsoleApi(cloud).handle(path, request)

    def stack(self) -> dict[str, Any]:
        """The stack as an operator's tools see a deployed one: its region, parameter values and outputs."""
        cloud = self._cloud
        parameters = cloud.stack.resolver.parameters
        return {
            "stack_name": STACK_NAME,
            "region": cloud.region,
            "parameters": {name: value for name, value in parameters.items() if "::" not in name},
            "outputs": cloud.stack.outputs(),
            "gateway": cloud.gateway.url if cloud.gateway else None,
        }

    def _regions(self, rest: str, request: Request) -> Response:
        """`GET api/regions`: the regions of several (regions.py) and whether each is cut; `POST
        api/regions/<region>/cut`: cut one (202: the cut finishes after the answer, which may come from the
        gateway being cut; poll `GET api/regions`)."""
        regions = self._cloud.regions
        if regions is None:
            return _json({"message": "this local cloud runs one region"}, 404)
        if not rest:
            return _json({"regions": regions.describe()})
        region, _, action = rest.partition("/")
        if action != "cut" or request.method != "POST":
            return _json({"message": "POST /_localcloud/api/regions/<region>/cut"}, 404)
        if region not in regions.names:
            return _json({"message": f"no region {region!r}: {', '.join(regions.names)}"}, 404)
        threading.Thread(target=regions.cut, args=(region,), name=f"cut-{region}", daemon=True).start()
        return _json({"cutting": region}, 202)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, default=str), status=status, content_type="application/json")
