"""`python -m ops`: the operator's command line. Against the running local cloud by default (`make run`:
moto on 127.0.0.1:4566, gateway on :3000), or a deployed stack with `--stack NAME` (plus `--region`,
`--profile`). Results go to stdout (`--json` for scripts), progress to stderr.

Exit status: 0 all is well; 1 the command found problems (a DLQ holds messages with `--check`, messages
left parked by a redrive, an order with no events, streams a rebuild could not replay, a new generation
left not ready); 2 usage or configuration errors (no local cloud, unknown stack, queue or view, a
generation change the view's state does not allow).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.target import LOCAL_ENDPOINT, LOCAL_GATEWAY, TargetError, aws_target, local_regions, local_target
from ops.template import TEMPLATE, TemplateError

if TYPE_CHECKING:
    from ops.target import Target

OK, PROBLEMS, USAGE = 0, 1, 2
DEFAULT_DRAIN_SECONDS = 120.0  # ops failover --planned: a minute of empty reads, and a minute to get there


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(_with_default_rebuild_action(arguments))
    try:
        return int(args.handler(args))
    except (TargetError, TemplateError) as error:
        print(f"ops: {error}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        print("ops: interrupted", file=sys.stderr)
        return PROBLEMS


def _with_default_rebuild_action(arguments: list[str]) -> list[str]:
    """`ops rebuild VIEW` is `ops rebuild run VIEW` (the other actions: status, switch, drop)."""
    from ops.rebuild import ACTIONS

    if "rebuild" in arguments:
        index = arguments.index("rebuild") + 1
        if (
            index < len(arguments)
            and arguments[index] not in ACTIONS
            and not arguments[index].startswith("-")
        ):
            return [*arguments[:index], "run", *arguments[index:]]
    return arguments


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    where = parser.add_argument_group("target (default: the local cloud)")
    where.add_argument("--stack", help="a deployed stack's name (AWS credentials from the usual chain)")
    where.add_argument("--region", help="AWS region of --stack")
    where.add_argument("--profile", help="AWS profile for --stack")
    where.add_argument(
        "--endpoint-url", default=LOCAL_ENDPOINT, help=f"local moto (default {LOCAL_ENDPOINT})"
    )
    where.add_argument(
        "--gateway-url", default=LOCAL_GATEWAY, help=f"local gateway (default {LOCAL_GATEWAY})"
    )
    where.add_argument("--template", type=Path, default=TEMPLATE, help="the local cloud's template")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    commands = parser.add_subparsers(dest="command", required=True)
    # `--json` also after the command (`dlq list --json`), without overriding one given before it.
    scripted = argparse.ArgumentParser(add_help=False)
    scripted.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")

    alarms = commands.add_parser("alarms", help="the template's generated alarms and dashboard")
    mode = alarms.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="replace the section in the template")
    mode.add_argument("--check", action="store_true", help="exit 1 if the template's section is stale")
    alarms.set_defaults(handler=_alarms)

    openapi = commands.add_parser("openapi", help="the HTTP API's OpenAPI document, from the handlers")
    mode = openapi.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write docs/openapi.json")
    mode.add_argument("--check", action="store_true", help="exit 1 if docs/openapi.json is stale")
    openapi.set_defaults(handler=_openapi)

    dlq = commands.add_parser("dlq", help="dead-letter queues").add_subparsers(dest="action", required=True)
    listing = dlq.add_parser("list", parents=[scripted], help="every DLQ with its depth and oldest message")
    listing.add_argument("--check", action="store_true", help="exit 1 if any DLQ holds a message")
    listing.set_defaults(handler=_dlq_list)
    show = dlq.add_parser("show", parents=[scripted], help="the parked messages, decoded (left in the queue)")
    show.add_argument("name", help="the DLQ's logical id (e.g. OrderCommandsDLQ), name or URL")
    show.add_argument("--max", type=int, default=10, help="messages to show (default 10)")
    show.set_defaults(handler=_dlq_show)
    redrive = dlq.add_parser(
        "redrive", parents=[scripted], help="put parked messages back to work, FIFO-safe"
    )
    redrive.add_argument("name", help="the DLQ's logical id, name or URL")
    redrive.add_argument("--max", type=int, default=1000, help="messages to redrive at most (default 1000)")
    redrive.set_defaults(handler=_dlq_redrive)

    trace = commands.add_parser(
        "trace", parents=[scripted], help="an order's whole story across every context's log"
    )
    trace.add_argument("order_id")
    trace.add_argument("--logs", type=Path, help="locally: a file of the functions' JSON log lines")
    trace.add_argument("--no-logs", action="store_true", help="on AWS: skip CloudWatch Logs")
    trace.add_argument("--max-pages", type=int, default=1000, help="Scan pages per event log at most")
    trace.set_defaults(handler=_trace)

    failover = commands.add_parser(
        "failover",
        parents=[scripted],
        help="promote the standby of a replicated pair (--stack, the same name in both regions)",
    )
    failover.add_argument("--to", required=True, help="the region to make active")
    failover.add_argument("--other", help="the pair's other region (default: the stack's ReplicaRegion)")
    failover.add_argument(
        "--recent-hours",
        type=float,
        default=24.0,
        help="finished processes whose last fact is this recent are resumed too (default 24)",
    )
    failover.add_argument("--status", action="store_true", help="only say which region is active")
    failover.add_argument(
        "--planned",
        action="store_true",
        help="move while both regions are up (the way back included): demote the active region, let its "
        "command queues drain, then promote (docs/failover.md)",
    )
    failover.add_argument(
        "--drain-seconds",
        type=float,
        help=f"with --planned: how long to wait for the region left's command queues to empty (default "
        f"{DEFAULT_DRAIN_SECONDS:g}; 0: its consumers stop at once, and what its queues hold ends in its "
        "DLQs)",
    )
    failover.add_argument(
        "--settle",
        type=float,
        help="with --planned: seconds after each change of the record until every function has seen it "
        "(default: the stack's ActiveRegionCacheSeconds + its longest queue consumer's timeout)",
    )
    failover.set_defaults(handler=_failover)

    standby = commands.add_parser(
        "standby-parameters",
        parents=[scripted],
        help="what the standby's stack is given, read from the primary's (--stack, --region of the primary)",
    )
    standby.add_argument("--standby-region", required=True, help="the region the standby is deployed in")
    standby.set_defaults(handler=_standby_parameters)

    regions = commands.add_parser(
        "regions", help="the local cloud in two regions (make run-regions; docs/failover.md)"
    ).add_subparsers(dest="action", required=True)
    regions.add_parser("run", help="run the pair until Ctrl-C").set_defaults(handler=_regions_run)
    regions.add_parser("list", parents=[scripted], help="the pair's regions and their state").set_defaults(
        handler=_regions_list
    )
    cut = regions.add_parser(
        "cut", parents=[scripted], help="an outage: a region's gateway, functions and queues gone"
    )
    cut.add_argument("region")
    cut.set_defaults(handler=_regions_cut)

    token = commands.add_parser(
        "token",
        parents=[scripted],
        help="with --stack: sign a user of the stack's own user pool in, made if new; print the access token",
    )
    token.add_argument("--user", required=True, help="the user's name (a customer, or a staff member)")
    token.add_argument(
        "--scope",
        action="append",
        default=[],
        help="a staff scope the user gets (repeat, or space/comma separated), e.g. orders/warehouse",
    )
    token.set_defaults(handler=_token)

    mine = commands.add_parser(
        "mine",
        parents=[scripted],
        help="the named queries (or any SQL) over the archive, with DuckDB (docs/mining.md)",
        description="Run a named query, or plain SQL over the table `events`, on a local copy of the "
        "archive (fetched from the stack's archive bucket; only new objects), with DuckDB.",
    )
    mine.add_argument("query", nargs="?", help="a named query (see --list), or SQL over `events`")
    mine.add_argument("--list", action="store_true", help="the named queries and what each answers")
    mine.add_argument("--csv", action="store_true", help="print CSV")
    mine.add_argument("--since", help="only facts of this day (YYYY-MM-DD, UTC) and later: fewer files read")
    mine.add_argument("--until", help="only facts of this day and earlier")
    mine.add_argument("--archive", type=Path, help="query this folder (the archive's layout) as it is")
    mine.add_argument(
        "--cache", type=Path, help="where the archive is copied to (default .archive-cache/<stack>)"
    )
    mine.add_argument("--no-fetch", action="store_true", help="query the cached copy without fetching")
    mine.add_argument(
        "--catalogue",
        action="store_true",
        help="print the generated mining.yaml (Glue table, Athena named queries); with --write, write it",
    )
    catalogue_mode = mine.add_mutually_exclusive_group()
    catalogue_mode.add_argument("--write", action="store_true", help="with --catalogue: write mining.yaml")
    catalogue_mode.add_argument(
        "--check", action="store_true", help="with --catalogue: exit 1 if mining.yaml is not current"
    )
    mine.set_defaults(handler=_mine)

    rebuild = commands.add_parser(
        "rebuild", help="rebuild a read model from its event log, blue/green (run, status, switch, drop)"
    )
    actions = rebuild.add_subparsers(dest="action", required=True)
    settle = argparse.ArgumentParser(add_help=False)
    settle.add_argument(
        "--settle",
        type=float,
        help="seconds until every function has read a registry change (default: the stack's "
        "ViewGenerationsCacheSeconds + 2)",
    )
    segments = argparse.ArgumentParser(add_help=False)
    segments.add_argument("--segments", type=int, default=4, help="parallel scan segments (default 4)")
    run = actions.add_parser(
        "run",
        parents=[scripted, settle, segments],
        help="build a new generation beside the active one (the default action), or repair one in place",
    )
    run.add_argument("view", help="the view's name, e.g. OrdersView")
    run.add_argument(
        "--projection", help="module:attribute of the projection to build with (default: the active one's)"
    )
    run.add_argument(
        "--in-place",
        action="store_true",
        help="repair a fed generation where it is (conditional writes, its own projection) instead",
    )
    run.add_argument("--generation", help="with --in-place: which one (default: the active one)")
    run.add_argument(
        "--from-archive",
        action="store_true",
        help="backfill from the archive (S3) instead of scanning the log; then caught up from the log",
    )
    run.set_defaults(handler=_rebuild)
    show = actions.add_parser("status", parents=[scripted], help="a view's generations (default: every view)")
    show.add_argument("view", nargs="?")
    show.set_defaults(handler=_rebuild_status)
    switch = actions.add_parser(
        "switch", parents=[scripted], help="make another generation the one the queries read (reversible)"
    )
    switch.add_argument("view")
    switch.add_argument("--to", help="the generation (default: the ready or standby one)")
    switch.set_defaults(handler=_rebuild_switch)
    drop = actions.add_parser(
        "drop", parents=[scripted, settle, segments], help="stop feeding a generation and empty its table"
    )
    drop.add_argument("view")
    drop.add_argument("generation", nargs="?", help="default: the one that is not active")
    drop.set_defaults(handler=_rebuild_drop)
    return parser


def _target(args: argparse.Namespace) -> Target:
    if args.stack:
        return aws_target(args.stack, args.region, args.profile)
    return local_target(args.endpoint_url, args.template, args.gateway_url)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _progress(total: int | None, description: str) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task(description, total=total)
    return progress, lambda advance=1: progress.advance(task, advance)


def _status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- commands ------------------------------------------------------------------------------------------------


def _alarms(args: argparse.Namespace) -> int:
    from ops.alarms import current_section, generate, operations_path, replace_section

    operations = generate(args.template)
    nested = operations_path(args.template)
    text = args.template.read_text()
    if args.check:
        current = nested.read_text() if nested.exists() else None
        if current_section(text) != operations.section or current != operations.nested:
            print(f"{args.template}: the operations stack is stale; run `make alarms`", file=sys.stderr)
            return PROBLEMS
        return OK
    if args.write:
        args.template.write_text(replace_section(text, operations.section))
        nested.write_text(operations.nested)
        alarms = operations.nested.count("AWS::CloudWatch::Alarm")
        print(f"{nested}: written ({alarms} alarms and the dashboard); {args.template}: its Operations stack")
        return OK
    print(operations.nested, end="")
    return OK


def _openapi(args: argparse.Namespace) -> int:
    from ops.openapi import DOCUMENT, generate, render

    text = render(generate(args.template))
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            print(f"{DOCUMENT}: out of date with the handlers; run `make openapi`", file=sys.stderr)
            return PROBLEMS
        return OK
    if args.write:
        DOCUMENT.write_text(text)
        print(f"{DOCUMENT}: written ({text.count('"operationId"')} operations)")
        return OK
    print(text, end="")
    return OK


def _token(args: argparse.Namespace) -> int:
    from ops.tokens import sign_in

    if not args.stack:
        print(
            "ops: token needs --stack: locally `make token` (python -m localcloud token) mints them",
            file=sys.stderr,
        )
        return USAGE
    scopes = [scope for value in args.scope for scope in value.replace(",", " ").split()]
    signed = sign_in(_target(args), args.user, scopes, say=_status)
    if args.json:
        _print_json(_slots(signed))
        return OK
    scoped = f"scopes {' '.join(signed.scopes)}" if signed.scopes else "no staff scope"
    _status(f"{signed.username}: sub {signed.sub}, {scoped}, valid {signed.expires_in // 60} min")
    print(signed.access_token)
    return OK


def _dlq_list(args: argparse.Namespace) -> int:
    from ops.dlq import list_queues

    statuses = list_queues(_target(args))
    if args.json:
        _print_json([{**vars(s), "depth": s.depth} for s in statuses])
    else:
        print(f"{'dead-letter queue':<26}{'depth':>7}{'oldest':>12}  parked by")
        for s in statuses:
            age = "-" if s.oldest_age_seconds is None else _duration(s.oldest_age_seconds)
            source = f" ({s.age_source})" if s.age_source == "peek" else ""
            print(f"{s.logical_id:<26}{s.depth:>7}{age + source:>12}  {s.parks}")
    parked = sum(s.depth for s in statuses)
    return PROBLEMS if args.check and parked else OK


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _dlq_show(args: argparse.Namespace) -> int:
    from ops.dlq import describe_source, resolve, show

    target = _target(args)
    dlq = resolve(target, args.name)
    messages = show(target, dlq, limit=max(1, args.max))
    if args.json:
        _print_json(messages)
        return OK
    print(f"{dlq.logical_id}: {len(messages)} message(s) shown, parked by {describe_source(target, dlq)}")
    for message in messages:
        group = f"  group {message['message_group_id']}" if "message_group_id" in message else ""
        received = f"received {message['receive_count']}x"
        print(f"\n- {message['message_id']}  sent {message['sent_at']}  {received}{group}")
        if "command" in message:
            _print_command(message["command"])
        else:
            _print_failure(message)
    return OK


def _print_command(command: dict[str, Any]) -> None:
    if not command["readable"]:
        print(f"  NOT A COMMAND MESSAGE: {command['problem']}\n  body: {command['body'][:300]}")
        return
    print(f"  {command['command_type']}  command_id={command['command_id']}")
    print(f"  correlation_id={command['correlation_id']}  causation_id={command['causation_id']}")
    print(f"  payload: {json.dumps(command['payload'])}")


def _print_failure(message: dict[str, Any]) -> None:
    failure = message["failure"]
    if not failure["readable"]:
        print(f"  NOT A LAMBDA FAILURE RECORD: {failure['body'][:300]}")
        return
    first, last = failure["sequence_numbers"]
    print(f"  {failure['condition']} after {failure['attempts']} attempts: {failure['batch_size']} record(s)")
    print(f"  {failure['stream_arn']} {failure['shard_id']} {first}..{last}")
    if "records_unavailable" in message:
        print(f"  records: {message['records_unavailable']}")
    for record in message.get("records", []):
        if not record["readable"]:
            print(f"  * {record['sequence_number']}: UNREADABLE: {record['problem']}")
            if "data" in record:
                print(f"    data: {record['data'][:200]!r}")
        elif "stream" in record:
            print(
                f"  * {record['sequence_number']}: {record['stream']} v{record['version']} "
                f"{', '.join(record['events'])}  correlation_id={record['correlation_id']}"
            )
        else:
            print(
                f"  * {record['sequence_number']}: {record['event_type']} {record['event_id']} "
                f"subject={record['subject']}  correlation_id={record['correlation_id']}"
            )


def _dlq_redrive(args: argparse.Namespace) -> int:
    from ops.dlq import describe_source, list_queues, redrive, resolve

    target = _target(args)
    dlq = resolve(target, args.name)
    depth = next(s.depth for s in list_queues(target) if s.logical_id == dlq.logical_id)
    progress, advance = _progress(min(depth, args.max) or None, f"redriving {dlq.logical_id}")
    with progress:
        report = redrive(target, dlq, limit=max(1, args.max), progress=advance)
    if args.json:
        _print_json(
            {
                "moved": report.moved,
                "left": report.left,
                "deduplication_ids": report.deduplication_ids,
                "cleared": report.cleared,
                "gone": report.gone,
            }
        )
    else:
        destination = dlq.source_queue or describe_source(target, dlq)
        print(f"{dlq.logical_id}: {report.moved} message(s) redriven to {destination}")
        if report.gone:
            print(f"  {report.cleared} notice(s) deleted, their batch gone (redriven, removed, expired):")
            for where in report.gone:
                print(f"    {where}")
        for message_id, why in report.left:
            print(f"  left parked: {message_id}: {why}")
    return OK if report.ok else PROBLEMS


def _failover(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from eventcore.regions import PromotionRefusedError
    from ops.failover import RegionEnd, failover, planned_move, region_end, settle_seconds, status

    if not args.planned and (args.drain_seconds is not None or args.settle is not None):
        raise TargetError("--drain-seconds and --settle are a planned move's: add --planned")

    def target_in(region: str) -> Target:
        if args.stack:
            return aws_target(args.stack, region, args.profile)
        gateways = {found["region"]: found["gateway"] for found in _local_pair(args)}
        if region not in gateways:
            raise TargetError(f"the local cloud has no region {region}: {', '.join(gateways)}")
        return local_target(args.endpoint_url, args.template, gateways[region])

    target = target_in(args.to)
    to = region_end(target)
    if args.status:
        print(status(to))
        return OK
    other_region = args.other or to.replica_region
    if not other_region:
        raise TargetError(f"the stack in {args.to} names no ReplicaRegion: pass --other")
    try:
        other: RegionEnd | None = region_end(target_in(other_region))
    except TargetError:
        other = None  # the other region does not answer at all: reachable it is not
    recent = timedelta(hours=args.recent_hours)
    try:
        if args.planned:
            settle = settle_seconds(target) if args.settle is None else max(0.0, args.settle)
            moved = planned_move(
                to,
                other or to.unreachable(other_region),
                settle=settle,
                drain=max(0.0, DEFAULT_DRAIN_SECONDS if args.drain_seconds is None else args.drain_seconds),
                say=_status,
                recent=recent,
            )
            resumed = moved.resumed
        else:
            moved = None
            resumed = failover(to, other or to.unreachable(other_region), recent=recent)
    except PromotionRefusedError as refusal:
        print(f"ops: refused: {refusal}", file=sys.stderr)
        return PROBLEMS
    if args.json:
        result = _slots(resumed)
        if moved is not None:
            result = {**_slots(moved), "resumed": result}
        _print_json(result)
    else:
        if moved is not None:
            drained = "drained" if moved.drained else "NOT drained"
            left = ", ".join(f"{n} on {queue}" for queue, n in moved.left.items()) or "nothing readable"
            print(
                f"{moved.left_region} left: its command queues {drained} in {moved.drain_seconds:g} s"
                + (
                    ""
                    if moved.drained
                    else f" (left: {left}; re-sent to {resumed.region} under the same ids)"
                )
                + f"; {moved.settle_seconds:g} s waited for the functions"
            )
        print(
            f"{resumed.region} is active (promotion {resumed.epoch}): {resumed.in_flight} of "
            f"{resumed.processes} processes resumed, {resumed.commands} commands sent again "
            f"({', '.join(f'{n} {t}' for t, n in resumed.by_type.items()) or 'none'})"
        )
    return OK


def _local_pair(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The local cloud's regions (make run-regions), asked of --gateway-url; by default of the primary's
    gateway, else the standby's (the primary's is gone once it is cut)."""
    from ops.localregions import STANDBY_GATEWAY

    fallback = [STANDBY_GATEWAY] if args.gateway_url == LOCAL_GATEWAY else []
    found = local_regions(args.gateway_url, *fallback)
    if not found:
        raise TargetError(
            "failover acts on a replicated pair: a deployed one (--stack NAME, the same in both regions), or "
            "the local cloud in two regions (make run-regions); this local cloud runs one region"
        )
    return found


def _standby_parameters(args: argparse.Namespace) -> int:
    from ops.failover import standby_parameters

    values = standby_parameters(_target(args), args.standby_region)
    if args.json:
        _print_json(values)
    else:  # what `sam deploy --parameter-overrides` takes
        print(" ".join(f"{name}={value}" for name, value in values.items()))
    return OK


def _regions_run(args: argparse.Namespace) -> int:
    from ops.localregions import run

    return run(args.template)


def _regions_list(args: argparse.Namespace) -> int:
    found = _local_pair(args)
    if args.json:
        _print_json(found)
    else:
        for region in found:
            print(f"{region['region']:<16} {region['state']:<9} {region['gateway']}")
    return OK


def _regions_cut(args: argparse.Namespace) -> int:
    """POST the cut through another region's gateway (the cut region's own stops answering), then wait until
    the pair reports the region cut."""
    import time
    import urllib.request

    found = {region["region"]: region for region in _local_pair(args)}
    if args.region not in found:
        raise TargetError(f"no region {args.region} in the local cloud: {', '.join(sorted(found))}")
    if found[args.region]["state"] == "cut":
        print(f"{args.region} is already cut")
        return OK
    others = [r["gateway"] for name, r in found.items() if name != args.region and r["state"] != "cut"]
    if not others:
        raise TargetError(f"{args.region} is the last region running: stop the local cloud instead (Ctrl-C)")
    request = urllib.request.Request(f"{others[0]}/_localcloud/api/regions/{args.region}/cut", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass
    deadline = time.monotonic() + 120  # a cut waits for the batches in progress: minutes on a loaded machine
    while time.monotonic() < deadline:
        states = {region["region"]: region["state"] for region in local_regions(*others)}
        if states.get(args.region) == "cut":
            print(f"{args.region} is cut: its gateway, functions and queue contents are gone")
            return OK
        time.sleep(0.2)
    raise TargetError(f"{args.region} was not reported cut within 120 s")


def _trace(args: argparse.Namespace) -> int:
    from ops.trace import log_lines_from_cloudwatch, log_lines_from_file, trace

    target = _target(args)
    story = trace(target, args.order_id, max_pages=max(1, args.max_pages), progress=_status)
    if args.logs is not None:
        story.log_lines = log_lines_from_file(args.logs, story)
    elif not target.local and not args.no_logs:
        story.log_lines = log_lines_from_cloudwatch(target, story, progress=_status)
    if args.json:
        _print_json(
            {
                "order_id": story.order_id,
                "events": [vars(e) if not hasattr(e, "__slots__") else _slots(e) for e in story.events],
                "correlation_ids": story.correlation_ids,
                "log_lines": story.log_lines,
                "truncated": story.truncated,
            }
        )
    else:
        _print_story(story, target.local and args.logs is None)
    return OK if story.events else PROBLEMS


def _slots(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


def _print_story(story: Any, no_log_file: bool) -> None:
    if not story.events:
        print(f"order {story.order_id}: no events in any event log")
        return
    ids = ", ".join(story.correlation_ids)
    print(f"order {story.order_id}: {len(story.events)} events, correlation ids {ids}")
    for e in story.events:
        print(
            f"{e.at}  {e.log:<18} {e.stream}@{e.version:<3} {e.event_type:<22} "
            f"correlation={e.correlation_id} causation={e.causation_id}"
        )
    if story.truncated:
        print("(incomplete: a scan stopped at --max-pages)")
    if story.log_lines:
        print(f"\n{len(story.log_lines)} log lines:")
        for line in story.log_lines:
            print(
                f"{line.get('timestamp', '')}  {line.get('level', ''):<7} {line.get('service', ''):<22} "
                f"{line.get('message', '')}"
            )
    elif no_log_file:
        print("\n(log lines: pass --logs FILE with the local cloud's function logs)")


def _refused(error: Exception) -> int:
    print(f"ops: {error}", file=sys.stderr)
    return USAGE


def _mine(args: argparse.Namespace) -> int:
    from ops.mining import ArchiveEngine, named_queries
    from ops.mining.archive import sync_archive
    from ops.mining.catalogue import CATALOGUE, catalogue

    if args.catalogue:
        text = catalogue()
        if args.check:
            current = CATALOGUE.read_text() if CATALOGUE.exists() else ""
            if current != text:
                print(f"ops: {CATALOGUE.name} is not current: run `make mining`", file=sys.stderr)
                return PROBLEMS
            return OK
        if args.write:
            CATALOGUE.write_text(text)
            _status(f"{CATALOGUE}: written ({len(named_queries())} named queries)")
            return OK
        print(text, end="")
        return OK
    queries = named_queries()
    if args.list:
        if args.json:
            _print_json(
                [{"name": q.name, "title": q.title, "description": q.description} for q in queries.values()]
            )
            return OK
        for named in queries.values():
            print(f"{named.name:<34} {named.title}")
        return OK
    if not args.query:
        print("ops: name a query (python -m ops mine --list) or give SQL over `events`", file=sys.stderr)
        return USAGE
    sql = queries[args.query].sql if args.query in queries else args.query
    if args.query not in queries and " " not in args.query.strip():
        print(f"ops: no named query {args.query!r} (python -m ops mine --list)", file=sys.stderr)
        return USAGE
    root = args.archive
    if root is None:
        target = _target(args)
        root = args.cache or Path(".archive-cache") / target.stack_name
        if not args.no_fetch:
            sync_archive(
                target.client("s3"),
                target.physical("ArchiveBucket"),
                root,
                since=args.since,
                until=args.until,
                progress=_status,
            )
    engine = ArchiveEngine(root, since=args.since, until=args.until)
    try:
        result = engine.run(sql)
    except Exception as error:  # DuckDB's errors name the problem (a column, a function, the syntax)
        print(f"ops: the query failed: {error}", file=sys.stderr)
        return USAGE
    finally:
        engine.close()
    if args.json:
        _print_json(result.records())
    elif args.csv:
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    else:
        print(_table(result.columns, result.rows))
        _status(f"{len(result.rows)} rows in {result.seconds} s")
    return OK


def _table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """A plain-text table: numbers right-aligned, everything else left-aligned."""
    cells = [[("" if value is None else str(value)) for value in row] for row in rows]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows) for i in range(len(columns))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            value.rjust(width) if number else value.ljust(width)
            for value, width, number in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(columns), line(["-" * width for width in widths]), *(line(row) for row in cells)])


def _rebuild(args: argparse.Namespace) -> int:
    from eventcore import EventCoreError
    from ops.rebuild import in_place, run

    target = _target(args)
    segments = max(1, args.segments)
    if args.in_place and args.projection:
        return _refused(
            ValueError(
                "--projection builds a new generation; in place, a generation keeps its own projection"
            )
        )
    if args.from_archive and args.in_place:
        return _refused(ValueError("--from-archive builds a new generation; --in-place repairs from the log"))
    if args.generation and not args.in_place:
        return _refused(
            ValueError("--generation names what --in-place repairs; a new one takes the free table")
        )
    try:
        if args.in_place:
            report = in_place(
                target, args.view, generation=args.generation, segments=segments, progress=_status
            )
            if args.json:
                _print_json(_slots(report))
            else:
                print(
                    f"{args.view}: {report.rows_written} of {report.rows} rows written from "
                    f"{report.commits} commits ({report.events} events) in {report.seconds} s; "
                    f"{report.failed_streams} streams failed"
                )
            return PROBLEMS if report.failed_streams else OK
        built = run(
            target,
            args.view,
            projection=args.projection,
            segments=segments,
            settle=args.settle,
            progress=_status,
            from_archive=args.from_archive,
        )
    except EventCoreError as error:
        return _refused(error)
    if args.json:
        _print_json({**_slots(built), "backfill": _slots(built.backfill)})
    else:
        backfill = built.backfill
        state = f"ready: rebuild switch {args.view}" if built.ready else "NOT ready (streams failed)"
        print(
            f"{args.view}: generation {built.generation} built with {built.projection}: {backfill.rows} rows "
            f"from {backfill.commits} commits ({backfill.events} events), {built.caught_up_streams} streams "
            f"caught up, in {built.seconds} s ({built.waited_seconds} s waiting for the functions); {state}"
        )
    return OK if built.ready else PROBLEMS


def _rebuild_status(args: argparse.Namespace) -> int:
    from eventcore import EventCoreError
    from ops.rebuild import status

    try:
        views = status(_target(args), args.view)
    except EventCoreError as error:
        return _refused(error)
    failed = any(g.failed for generations in views.values() for g in generations)
    if args.json:
        _print_json({view: [_slots(g) for g in generations] for view, generations in views.items()})
        return PROBLEMS if failed else OK
    for view, generations in views.items():
        print(view)
        for g in generations:
            built = f", built with {g.projection}" if g.projection else ""
            since = f", {g.state} since {g.changed_at}" if g.changed_at else ""
            print(f"  {g.name:<6} {g.state:<12} {g.table}: {g.table_items} items{built}{since}")
            if g.failed:
                print(f"         FAILED {g.failed}: no longer fed; drop it and rebuild")
    return PROBLEMS if failed else OK


def _rebuild_switch(args: argparse.Namespace) -> int:
    from eventcore import EventCoreError
    from ops.rebuild import cache_seconds, switch

    target = _target(args)
    try:
        switched = switch(target, args.view, to=args.to)
    except EventCoreError as error:
        return _refused(error)
    if args.json:
        _print_json(_slots(switched))
    else:
        print(
            f"{args.view}: {switched.active} is active, {switched.previous} standby (still fed); every query "
            f"reads {switched.active} within {cache_seconds(target):g} s. Back: rebuild switch {args.view}"
        )
    return OK


def _rebuild_drop(args: argparse.Namespace) -> int:
    from eventcore import EventCoreError
    from ops.rebuild import drop

    try:
        dropped = drop(
            _target(args),
            args.view,
            generation=args.generation,
            segments=max(1, args.segments),
            settle=args.settle,
            progress=_status,
        )
    except EventCoreError as error:
        return _refused(error)
    if args.json:
        _print_json(_slots(dropped))
    else:
        print(
            f"{args.view}: generation {dropped.generation} ({dropped.was}) dropped, "
            f"{dropped.rows_deleted} rows deleted from {dropped.table}"
        )
    return OK
