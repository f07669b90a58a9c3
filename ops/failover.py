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
then its process manager sends what it decides, and its consumers act on what they were holding."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from eventcore.messaging.command_sender import SqsCommandSender
from eventcore.regions import ActiveRegionTable, PromotionRefusedError
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


# The process manager's queues, by the template's logical ids.
QUEUE_RESOURCES = {
    "orders": "OrderCommandsQueue",
    "payments": "PaymentCommandsQueue",
    "inventory": "InventoryCommandsQueue",
    "shipping": "ShippingCommandsQueue",
    "deadlines": "FulfillmentDeadlinesQueue",
}


def region_end(target: Target) -> RegionEnd:
    """One region's stack of a replicated pair: its replicas' names from the stack's outputs, its queues
    from its resources, its API as the reachability probe."""
    outputs = stack_outputs(target)
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


def stack_outputs(target: Target) -> dict[str, str]:
    if target.local:
        return target.outputs
    (stack,) = target.client("cloudformation").describe_stacks(StackName=target.stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


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
            "active regions (split brain). Promote only once it is unreachable (cut it, or wait), and "
            "see docs/failover.md for a planned move"
        )
    after = to.record.promote(to.name, seen=seen, at=moment)
    processes, in_flight, sent = resume(to, now=moment, recent=recent)
    by_type: dict[str, int] = {}
    for command in sent:
        by_type[command.message.command_type] = by_type.get(command.message.command_type, 0) + 1
    return Resumed(to.name, after.epoch, processes, in_flight, len(sent), dict(sorted(by_type.items())))


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
