"""The command line: `run` the local cloud, mint a dev `token`, `invoke` one function with an event file."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from localcloud.template import TemplateError, parse_overrides

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

__all__ = ["main"]

STATE_DIR = Path(".localcloud")
HEALTH_TIMEOUT_SECONDS = 5.0
READY_WAIT_SECONDS = 120.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the whole template locally until Ctrl-C")
    _common(run)
    run.add_argument("--port", type=int, default=3000, help="HTTP gateway port (default 3000)")
    run.add_argument("--moto-port", type=int, default=4566, help="moto server port (default 4566, 0: any)")
    run.add_argument("--fresh", action="store_true", help="start empty instead of resuming the saved state")
    run.add_argument("--verbose", action="store_true", help="show the functions' log lines under each line")

    token = commands.add_parser("token", help="print a dev JWT the local gateway accepts")
    _common(token)
    token.add_argument("--customer", required=True, help="the token's subject (sub)")
    token.add_argument(
        "--scope", action="append", default=[], help="a scope (repeatable; several space- or comma-separated)"
    )
    token.add_argument("--audience", help="another audience than the authorizer's (for negative tests)")
    token.add_argument("--authorizer", help="the authorizer to mint for (default: the first JWT one)")

    invoke = commands.add_parser("invoke", help="invoke one function with an event file, print the response")
    _common(invoke)
    invoke.add_argument("function", help="the function's logical id (or name)")
    invoke.add_argument("--event", type=Path, help="a JSON event file (default: {})")
    invoke.add_argument("--port", type=int, default=3000, help="port of a running local cloud to use")

    args = parser.parse_args(argv)
    from localcloud.cloud import StartError  # imported when needed: moto and the translator take seconds
    from localcloud.state import StateError

    try:
        return {"run": _run, "token": _token, "invoke": _invoke}[args.command](args)
    except (TemplateError, StartError, StateError) as exc:
        print(f"localcloud: {exc}", file=sys.stderr)
        return 2


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", type=Path, default=Path("template.yaml"), help="SAM template")
    parser.add_argument(
        "--parameter-overrides", nargs="*", default=[], metavar="K=V", help="template parameter values"
    )
    parser.add_argument(
        "--state-dir", type=Path, default=STATE_DIR, help="where `run` keeps its state (default .localcloud)"
    )


def _cloud(args: argparse.Namespace, **options: Any) -> LocalCloud:
    from localcloud.cloud import LocalCloud

    return LocalCloud(args.template, parameter_overrides=parse_overrides(args.parameter_overrides), **options)


def _run(args: argparse.Namespace) -> int:
    stopped = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    cloud = _cloud(
        args,
        port=args.port,
        moto_port=args.moto_port,
        state_dir=args.state_dir,
        fresh=args.fresh,
        verbose=args.verbose,
    )
    print(f"localcloud: starting {args.template} ...", flush=True)
    try:
        cloud.start()
    except OSError as exc:
        print(f"localcloud: cannot listen on port {args.port} or {args.moto_port}: {exc}", file=sys.stderr)
        return 2
    try:
        cloud.reporter.say(cloud.banner())
        while not stopped.wait(0.5):
            pass
    finally:
        cloud.reporter.say("localcloud: stopping")
        cloud.stop()
        if cloud.state is not None:
            print(f"localcloud: stopped; the state is kept in {cloud.state.path} (FRESH=1 starts empty)")
    return 0


def _token(args: argparse.Namespace) -> int:
    cloud = _cloud(args, state_dir=args.state_dir)
    assert cloud.state is not None  # the signing key is kept there, shared with `run`
    cloud.state.prepare(fresh=False)
    cloud.load()
    scopes = [scope for value in args.scope for scope in value.replace(",", " ").split()]
    print(
        cloud.token(args.customer, scopes=scopes or None, audience=args.audience, authorizer=args.authorizer)
    )
    return 0


def _invoke(args: argparse.Namespace) -> int:
    """Against the running local cloud of this template if there is one, else a fresh one for this call.
    Only the answer goes to stdout; which cloud was used, and the function's own output, to stderr."""
    event = json.loads(args.event.read_text()) if args.event else {}
    running = _running_cloud(args.port, args.template)
    if running is not None:
        url, pid = running
        print(f"localcloud: invoking through the running local cloud at {url} (pid {pid})", file=sys.stderr)
        response = requests.post(f"{url}/_localcloud/invoke/{args.function}", json=event, timeout=900)
        if response.status_code == 404:
            print(response.json()["message"], file=sys.stderr)
            return 2
        result = response.json()
    else:
        print(
            f"localcloud: no local cloud of {args.template} on port {args.port}; starting a fresh one",
            file=sys.stderr,
        )
        cloud = _cloud(
            args, port=0, moto_port=0, pollers=False, gateway=False, prewarm=False, output=sys.stderr
        )
        cloud.load()
        known = {name for spec in cloud.specs.values() for name in (spec.logical_id, spec.name)}
        if args.function not in known:
            print(f"no function {args.function!r}; the template has {sorted(cloud.specs)}", file=sys.stderr)
            return 2
        with cloud:
            invocation = cloud.invoke(args.function, event)
            result = {"status": invocation.status, "payload": invocation.payload, "error": invocation.error}
    if result["status"] != "ok":
        print(json.dumps(result["error"], indent=2))
        return 1
    print(json.dumps(result["payload"], indent=2))
    return 0


def _running_cloud(port: int, template: Path) -> tuple[str, int] | None:
    """The URL and pid of a local cloud running this template on `port`, once it is ready; None if none.

    A busy machine may take seconds to answer: the health check allows for it and is tried a few times, so
    that a running cloud is not mistaken for none."""
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_WAIT_SECONDS
    failures = 0
    while True:
        try:
            health = requests.get(f"{url}/_localcloud/health", timeout=HEALTH_TIMEOUT_SECONDS).json()
        except requests.ConnectionError:
            return None  # nothing listens there
        except (requests.RequestException, ValueError):
            failures += 1
            if failures >= 3:
                return None
            continue
        if health.get("template") != str(template.resolve()):
            return None
        if health.get("ready") or time.monotonic() > deadline:
            return url, int(health.get("pid", 0))
        time.sleep(0.5)
