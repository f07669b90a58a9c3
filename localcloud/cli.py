"""The command line: `run` the local cloud, mint a dev `token`, `invoke` one function with an event file."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import requests

from localcloud.cloud import LocalCloud
from localcloud.template import TemplateError, parse_overrides

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the whole template locally until Ctrl-C")
    _common(run)
    run.add_argument("--port", type=int, default=3000, help="HTTP gateway port (default 3000)")
    run.add_argument("--moto-port", type=int, default=4566, help="moto server port (default 4566, 0: any)")

    token = commands.add_parser("token", help="print a dev JWT the local gateway accepts")
    _common(token)
    token.add_argument("--customer", required=True, help="the token's subject (sub)")
    token.add_argument("--scope", action="append", default=[], help="a scope to include (repeatable)")

    invoke = commands.add_parser("invoke", help="invoke one function with an event file, print the response")
    _common(invoke)
    invoke.add_argument("function", help="the function's logical id (or name)")
    invoke.add_argument("--event", type=Path, help="a JSON event file (default: {})")
    invoke.add_argument("--port", type=int, default=3000, help="port of a running local cloud to use")

    args = parser.parse_args(argv)
    try:
        return {"run": _run, "token": _token, "invoke": _invoke}[args.command](args)
    except TemplateError as exc:
        print(f"localcloud: {exc}", file=sys.stderr)
        return 2


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", type=Path, default=Path("template.yaml"), help="SAM template")
    parser.add_argument(
        "--parameter-overrides", nargs="*", default=[], metavar="K=V", help="template parameter values"
    )


def _run(args: argparse.Namespace) -> int:
    cloud = LocalCloud(
        args.template,
        port=args.port,
        moto_port=args.moto_port,
        parameter_overrides=parse_overrides(args.parameter_overrides),
    )
    stopped = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    cloud.start()
    try:
        cloud.reporter.say(cloud.banner())
        while not stopped.wait(0.5):
            pass
    finally:
        cloud.reporter.say("localcloud: stopping")
        cloud.stop()
    return 0


def _token(args: argparse.Namespace) -> int:
    cloud = LocalCloud(args.template, parameter_overrides=parse_overrides(args.parameter_overrides))
    cloud.load()
    print(cloud.token(args.customer, scopes=args.scope or None))
    return 0


def _invoke(args: argparse.Namespace) -> int:
    event = json.loads(args.event.read_text()) if args.event else {}
    running = _running_cloud(args.port, args.template)
    if running is not None:
        response = requests.post(f"{running}/_localcloud/invoke/{args.function}", json=event, timeout=900)
        if response.status_code == 404:
            print(response.json()["message"], file=sys.stderr)
            return 2
        result = response.json()
    else:
        overrides = parse_overrides(args.parameter_overrides)
        with LocalCloud(
            args.template,
            port=0,
            moto_port=0,
            parameter_overrides=overrides,
            pollers=False,
            gateway=False,
            prewarm=False,
            output=sys.stderr,
        ) as cloud:
            try:
                invocation = cloud.invoke(args.function, event)
            except KeyError as exc:
                print(exc.args[0], file=sys.stderr)
                return 2
            result = {"status": invocation.status, "payload": invocation.payload, "error": invocation.error}
    if result["status"] != "ok":
        print(json.dumps(result["error"], indent=2))
        return 1
    print(json.dumps(result["payload"], indent=2))
    return 0


def _running_cloud(port: int, template: Path) -> str | None:
    """The URL of a local cloud already running this template on `port`, if there is one."""
    url = f"http://127.0.0.1:{port}"
    try:
        health = requests.get(f"{url}/_localcloud/health", timeout=0.5).json()
    except (requests.RequestException, ValueError):
        return None
    return url if health.get("template") == str(template.resolve()) else None
