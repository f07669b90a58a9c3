"""`python -m ops failover --to REGION`: the standby of a replicated pair takes over (docs/failover.md).

1. Decide: read the active-region record (strongly consistent) in the region to promote. Refused when that
   region is already the active one (a second promotion), and when the region the record names is still
   reachable (its API answers): two active regions would split the brain. Cut it, or wait until it is
   really gone, then promote.
2. Promote: one conditional write moves the record (refused if it changed since it was read).
3. Resume: every order-fulfillment process in flight is found in the replicated orders log (the process
   manager is event-sourced: its streams, `Fulfillment-<order id>`, hold what it heard and decided), and
   the commands its recorded events call for are sent again to the new active region's queues, with the
   same derived command ids (receivers do nothing twice), its deadline re-armed with them. Whatever was on
   the failed region's queues is never assumed delivered.

The functions of the promoted region see the record within their cache (`ActiveRegionCacheSeconds`); from
then its process manager sends what it decides, and its consumers act on what they were holding.

`--planned` (`planned_move`) moves the active role while both regions are up, the way back to the old primary
included, where the split-brain guard refuses a promotion: the active region is demoted first (no region is
active; its command consumers still apply what is on its queues: it drains), every function of both regions
is given time to see it, the region left's command queues are waited for until empty (or a deadline), its
consumers are stopped too, and only then is the target promoted and every process resumed as above. At no
moment do two regions act."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from eventcore.messaging.command_sender import SqsCommandSender
from eventcore.regions import DEFAULT_CACHE_SECONDS, ActiveRecord, ActiveRegionTable, PromotionRefusedError
from eventcore.write.command_ids import Cause
from eventcore.write.dynamodb_store import DynamoDBEventStore
from ops.target import TargetError
from orders.fulfillment.events import fulfillment_events
from orders.fulfillment.outbound import QUEUES, commands_for
from orders.fulfillment.process import AGGREGATE, Delivery, Outcome, evolve

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from eventcore.messaging.command_sender import OutgoingCommand
    from eventcore.write.store import Commit
    from ops.target import Target
    from orders.fulfillment.process import Fulfillment

PROBE_SECONDS = 3.0
# A finished process is resumed too when its last fact is this recent: its last commands (a confirmation,
# compensations) may still have been on the failed region's queues.
DEFAULT_RECENT = timedelta(hours=24)
# SQS's message counts "may not achieve consistency until at least 1 minute after the producers stop sending
# messages" (GetQueueAttributes, docs/failover.md): a planned move's drain believes its queues empty only
# once they have read so this long (or at its deadline).
QUIET_SECONDS = 60.0


@dataclass
class RegionEnd:
    """One region of the pair, as the operator reaches it: its clients, its replicas' names, its queues and
    whether it answers at all."""

    name: str
    dynamodb: Any
    sqs: Any
    orders_log: str
    active_region_table: str
    queue_urls: dict[str, str]  # the process manager's queues by its names (orders.fulfillment.outbound)
    reachable: Callable[[], bool] = field(default=lambda: False)
    replica_region: str = ""  # the stack's ReplicaRegion: the pair's other region

    @property
    def record(self) -> ActiveRegionTable:
        return ActiveRegionTable(self.active_region_table, self.dynamodb)

    def unreachable(self, region: str) -> RegionEnd:
        """The pair's other region when nothing of it answers: known by name only."""
        return RegionEnd(region, self.dynamodb, self.sqs, self.orders_log, self.active_region_table, {})


# The region's queues, by the template's logical ids: the process manager's (orders.fulfillment.outbound),
# and inventory's bucket queue, which its router feeds (drained by a planned move with the others).
QUEUE_RESOURCES = {
    "orders": "OrderCommandsQueue",
    "payments": "PaymentCommandsQueue",
    "inventory": "InventoryCommandsQueue",
    "inventory-buckets": "InventoryBucketsQueue",
    "shipping": "ShippingCommandsQueue",
    "deadlines": "FulfillmentDeadlinesQueue",
}
# What a planned move waits to see empty in the region it leaves: the command queues. Not the deadlines
# queue: its checks are delayed by design (minutes), so it is never empty while a process waits, and the
# resume re-arms every deadline in the region promoted.
DRAINED_QUEUES = ("orders", "payments", "inventory", "inventory-buckets", "shipping")
CACHE_PARAMETER = "ActiveRegionCacheSeconds"


def region_end(target: Target) -> RegionEnd:
    """One region's stack of a replicated pair: its replicas' names from the stack's outputs (read once,
    with its parameters, by `aws_target`), its queues from its resources, its API as the reachability
    probe."""
    outputs = target.outputs
    table = outputs.get("ActiveRegionTable")
    if not table:
        raise TargetError(
            f"stack {target.stack_name} in {target.region} is not replicated (Replication none): "
            "nothing to fail over"
        )
    return RegionEnd(
        name=target.region,
        dynamodb=target.client("dynamodb"),
        sqs=target.client("sqs"),
        orders_log=outputs["OrdersEventLogTable"],
        active_region_table=table,
        queue_urls={queue: target.physical(logical) for queue, logical in QUEUE_RESOURCES.items()},
        reachable=http_probe(f"{target.gateway_url if target.local else outputs['ApiUrl']}/orders"),
        replica_region=target.parameters.get("ReplicaRegion", ""),
    )


def settle_seconds(target: Target) -> float:
    """How long after a change of the record every function of the stack has seen it and finished what it
    began before: the functions' cache of the record (`ActiveRegionCacheSeconds`: a container that read it
    just before the write keeps that read this long), plus the longest timeout of the functions that act on
    the region's queues (a batch taken on the old record may run that long; the API's functions run under a
    shorter one)."""
    try:
        cache = float(target.parameters.get(CACHE_PARAMETER) or DEFAULT_CACHE_SECONDS)
    except ValueError:
        raise TargetError(f"the stack's {CACHE_PARAMETER} is not a number") from None
    acting = {m.function for m in target.shape.mappings if m.source_kind == "sqs"}
    timeouts = [
        float(target.shape.resources[function].get("Properties", {}).get("Timeout", 3))
        for function in acting
        if function in target.shape.resources
    ]
    return cache + max(timeouts, default=float(DEFAULT_FUNCTION_TIMEOUT))


DEFAULT_FUNCTION_TIMEOUT = 30  # the payments consumer's, the longest of the template's acting functions


# The replicated logs, in the order of the standby's ReplicatedStreamArns, by the primary's logical ids.
REPLICATED_LOGS = (
    "OrdersEventLogReplicas",
    "PaymentsEventLogReplicas",
    "InventoryEventLogReplicas",
    "ShippingEventLogReplicas",
)


def standby_parameters(primary: Target, standby_region: str) -> dict[str, str]:
    """What the standby's stack is given, read from the primary's (docs/failover.md, "Deploying a pair"): the
    primary stack's id, the streams of its replicated logs' replicas in the standby's region (each replica's
    LatestStreamArn there), and the primary's multi-Region key."""
    if primary.parameters.get("Replication") != "primary":
        raise TargetError(f"stack {primary.stack_name} in {primary.region} is not a primary (Replication)")
    (stack,) = primary.client("cloudformation").describe_stacks(StackName=primary.stack_name)["Stacks"]
    standby = primary.session.client(
        "dynamodb", region_name=standby_region, endpoint_url=primary.endpoint_url
    )
    streams = [
        standby.describe_table(TableName=primary.physical(logical))["Table"]["LatestStreamArn"]
        for logical in REPLICATED_LOGS
    ]
    key = primary.client("kms").describe_key(KeyId=primary.physical("PersonalDataKey"))["KeyMetadata"]
    return {
        "Replication": "standby",
        "ReplicaRegion": primary.region,
        "PrimaryStackId": stack["StackId"].rsplit("/", 1)[-1],
        "ReplicatedStreamArns": ",".join(streams),
        "PersonalDataPrimaryKeyArn": key["Arn"],
    }


@dataclass(frozen=True, slots=True)
class Resumed:
    """What a promotion did: the record it wrote, the processes it resumed and the commands it sent."""

    region: str
    epoch: int
    processes: int
    in_flight: int
    commands: int
    by_type: dict[str, int]


def http_probe(url: str, timeout: float = PROBE_SECONDS) -> Callable[[], bool]:
    """Reachable when anything answers at `url`, an error status too (401 without a token): the region's
    API gateway is up. Unreachable when nothing answers in time."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            return False

    return probe


def status(region: RegionEnd) -> str:
    record = region.record.read()
    if record.moving_to is not None:
        draining = f", {record.draining} draining its command queues" if record.draining else ""
        return (
            f"no region is active: a planned move to {record.moving_to} is under way{draining} (record "
            f"{record.epoch}, since {record.since}); finish it: python -m ops failover --to "
            f"{record.moving_to} --planned"
        )
    if record.region is None:
        return "no region is active yet (promote the primary first: python -m ops failover --to <primary>)"
    return f"active region: {record.region} (promotion {record.epoch}, since {record.since})"


def failover(
    to: RegionEnd,
    other: RegionEnd,
    *,
    now: datetime | None = None,
    recent: timedelta = DEFAULT_RECENT,
) -> Resumed:
    """Promote `to`, then resume every process in flight from the replicated log (module docstring)."""
    moment = now or datetime.now(UTC)
    seen = to.record.read()
    if seen.region == to.name:
        raise PromotionRefusedError(
            f"region {to.name} is already the active region (promotion {seen.epoch}, since {seen.since}): "
            "a second promotion would send every process's commands again for nothing"
        )
    if seen.region == other.name and other.reachable():
        raise PromotionRefusedError(
            f"region {other.name} is still active and reachable: promoting {to.name} now would make two "
            "active regions (split brain). Promote only once it is unreachable (cut it, or wait), or move "
            f"while both are up with a planned move: failover --to {to.name} --planned"
        )
    if seen.draining == other.name and other.reachable():
        raise PromotionRefusedError(
            f"a planned move to {seen.moving_to} is draining region {other.name}, which still applies its "
            f"commands: finish the move with failover --to {seen.moving_to} --planned"
        )
    return promote_and_resume(to, seen, now=moment, recent=recent)


def promote_and_resume(
    to: RegionEnd, seen: ActiveRecord, *, now: datetime, recent: timedelta = DEFAULT_RECENT
) -> Resumed:
    """The promotion's write, from the record as `seen`, then every process in flight resumed."""
    after = to.record.promote(to.name, seen=seen, at=now)
    processes, in_flight, sent = resume(to, now=now, recent=recent)
    by_type: dict[str, int] = {}
    for command in sent:
        by_type[command.message.command_type] = by_type.get(command.message.command_type, 0) + 1
    return Resumed(to.name, after.epoch, processes, in_flight, len(sent), dict(sorted(by_type.items())))


@dataclass(frozen=True, slots=True)
class Moved:
    """What a planned move did: the region it left, whether that region's command queues were empty when
    its consumers stopped (`left`: what was still on them, by queue; those commands were re-sent by the
    resume under the same ids), the waits, and the promotion's resume."""

    left_region: str
    drained: bool
    left: dict[str, int]
    settle_seconds: float
    drain_seconds: float
    resumed: Resumed


def planned_move(
    to: RegionEnd,
    source: RegionEnd,
    *,
    settle: float,
    drain: float,
    poll: float = 1.0,
    quiet: float = QUIET_SECONDS,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = lambda message: None,
    recent: timedelta = DEFAULT_RECENT,
) -> Moved:
    """Move the active role from `source` to `to` while both are up (module docstring):

    1. demote `source` (one conditional write: no region active, moving to `to`; `source` draining unless
       `drain` is 0) and wait `settle` seconds from the write: every function of both regions then reads
       the new record (their cache is shorter), and whatever began on the old one has ended;
    2. with `drain`: poll `source`'s command queues until they have read empty for `quiet` seconds or
       `drain` seconds have passed, then stop its consumers (a second write) and wait `settle` again;
    3. promote `to` and resume every process in flight, exactly as `failover` does.

    An interrupted move (the record already moving to `to`) is taken up where it stopped. Refused when `to`
    is already active, when no region is active to move from, and when the active region does not answer:
    then it cannot be stopped cleanly, and the unplanned `failover` is the command."""
    seen = to.record.read()
    if seen.region == to.name:
        raise PromotionRefusedError(
            f"region {to.name} is already the active region (promotion {seen.epoch}, since {seen.since}): "
            "there is nothing to move"
        )
    if seen.region is None and seen.moving_to is None:
        raise PromotionRefusedError(
            "no region is active, so none can be moved from: promote one with "
            f"`python -m ops failover --to {to.name}` (without --planned)"
        )
    if seen.moving_to is not None and seen.moving_to != to.name:
        raise PromotionRefusedError(
            f"a planned move to {seen.moving_to} is under way: finish it with failover --to "
            f"{seen.moving_to} --planned"
        )
    if seen.region is not None and seen.region != source.name:
        raise PromotionRefusedError(
            f"the record names {seen.region} as active, neither {to.name} nor {source.name}: check --other"
        )
    if seen.region == source.name and not source.reachable():
        raise PromotionRefusedError(
            f"region {source.name} is active and does not answer: a planned move needs it up, to stop it "
            f"cleanly. If it is gone, fail over without --planned: python -m ops failover --to {to.name}"
        )
    started = clock()
    settled = 0.0
    if seen.region == source.name:
        seen = to.record.demote(to.name, seen=seen, draining=drain > 0, at=now())
        say(
            f"{source.name} demoted (record {seen.epoch}): no region takes commands; waiting {settle:g} s "
            "for every function to see it"
        )
        settled += wait_until(clock() + settle, clock=clock, sleep=sleep, poll=poll)
    left: dict[str, int] = {}
    drained = True
    drain_started = clock()
    if seen.draining is not None:
        if source.reachable():
            say(f"waiting up to {drain:g} s for {source.name}'s command queues to drain")
            left = drain_queues(
                source, until=clock() + drain, clock=clock, sleep=sleep, poll=poll, quiet=quiet
            )
            drained = not left
        else:  # taken up after an interruption, the region left gone meanwhile: its queues cannot be read
            drained = False
        seen = to.record.stop_draining(seen=seen, at=now())
        say(f"{source.name} stops applying commands (record {seen.epoch}); waiting {settle:g} s")
        drain_seconds = clock() - drain_started
        settled += wait_until(clock() + settle, clock=clock, sleep=sleep, poll=poll)
    else:
        drain_seconds = 0.0
        if clock() - started < settle:  # taken up after an interruption: its last write may be recent
            settled += wait_until(started + settle, clock=clock, sleep=sleep, poll=poll)
    resumed = promote_and_resume(to, seen, now=now(), recent=recent)
    return Moved(source.name, drained, left, round(settled, 3), round(drain_seconds, 3), resumed)


def wait_until(
    deadline: float, *, clock: Callable[[], float], sleep: Callable[[float], None], poll: float
) -> float:
    """Wait until `clock()` reaches `deadline` (a moment measured from a write, not a fixed pause: the
    write's own time and whatever ran since count), a poll at a time; the seconds waited."""
    began = clock()
    while (remaining := deadline - clock()) > 0:
        sleep(min(poll, remaining))
    return clock() - began


def drain_queues(
    region: RegionEnd,
    *,
    until: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    poll: float,
    quiet: float = QUIET_SECONDS,
) -> dict[str, int]:
    """Poll the region's command queues (visible, in flight and delayed messages alike) until every one has
    read empty for `quiet` seconds, or `until` has passed: what the last read found, by queue (empty:
    drained). A wrong "drained" costs no command (the resume sends each again under its id), only messages
    left to be held in the region left, and parked in its DLQs."""
    empty_since: float | None = None
    while True:
        left = {queue: count for queue, count in queue_depths(region).items() if count}
        now = clock()
        empty_since = None if left else (now if empty_since is None else empty_since)
        if (empty_since is not None and now - empty_since >= quiet) or now >= until:
            return left
        sleep(min(poll, until - now))


def queue_depths(region: RegionEnd) -> dict[str, int]:
    counts = (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    depths = {}
    for queue in DRAINED_QUEUES:
        url = region.queue_urls.get(queue)
        if url is None:
            continue
        attributes = region.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(counts))["Attributes"]
        depths[queue] = sum(int(attributes.get(name, 0)) for name in counts)
    return depths


def resume(
    region: RegionEnd, *, now: datetime, recent: timedelta = DEFAULT_RECENT
) -> tuple[int, int, list[OutgoingCommand]]:
    """Send again what every process in flight has recorded it sends, to `region`'s queues: (processes
    read, processes resumed, commands sent)."""
    store = DynamoDBEventStore(region.orders_log, region.dynamodb)
    sender = SqsCommandSender(region.sqs, {queue: region.queue_urls[queue] for queue in QUEUES})
    processes = in_flight = 0
    sent: list[OutgoingCommand] = []
    for stream in fulfillment_streams(region.dynamodb, region.orders_log):
        processes += 1
        commits = list(store.read(stream))
        state = process_state(commits)
        if state is None or not resumable(state, commits, now - recent):
            continue
        in_flight += 1
        commands = commands_of(commits, state, now)
        sender.send(commands)
        sent.extend(commands)
    return processes, in_flight, sent


def fulfillment_streams(client: Any, table: str) -> Iterator[str]:
    """Every process's stream in the orders log: a consistent scan of the streams' first commits."""
    prefix = f"{AGGREGATE}-"
    paginator = client.get_paginator("scan")
    for page in paginator.paginate(
        TableName=table,
        ConsistentRead=True,
        ProjectionExpression="#stream",
        FilterExpression="begins_with(#stream, :prefix) AND #version = :first",
        ExpressionAttributeNames={"#stream": "stream", "#version": "version"},
        ExpressionAttributeValues={":prefix": {"S": prefix}, ":first": {"N": "1"}},
    ):
        for item in page.get("Items", []):
            yield item["stream"]["S"]


def process_state(commits: list[Commit]) -> Fulfillment | None:
    state: Fulfillment | None = None
    for commit in commits:
        for recorded in commit.events:
            state = evolve(state, fulfillment_events.decode(recorded))
    return state


def resumable(state: Fulfillment, commits: list[Commit], since: datetime) -> bool:
    """Not finished (waiting for answers, or for its parcel to leave and arrive), or finished so recently
    that its last commands may have been lost with the failed region's queues."""
    finished = state.outcome is Outcome.CANCELLED or state.delivery is Delivery.DELIVERED
    if not finished:
        return True
    last = datetime.fromisoformat(commits[-1].committed_at)
    return last >= since


def commands_of(commits: list[Commit], state: Fulfillment, now: datetime) -> list[OutgoingCommand]:
    """The commands each recorded event calls for, as the process sent them: the cause rebuilt from the
    commit (its command id is `derived_id(<fact type>, <cause id>)`), so every command id is the same."""
    skus = [line.sku for line in state.lines]
    commands: list[OutgoingCommand] = []
    for commit in commits:
        cause = Cause(cause_id(commit.command_id), commit.correlation_id, commit.causation_id)
        for recorded in commit.events:
            commands.extend(commands_for(fulfillment_events.decode(recorded), cause, skus, now))
    return commands


def cause_id(command_id: str) -> str:
    """The cause's id inside a derived command id `kind:part` (each part percent-encoded)."""
    _, _, part = command_id.partition(":")
    return unquote(part)
