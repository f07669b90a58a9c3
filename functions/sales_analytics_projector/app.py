"""Sales analytics: the `order-events` Kinesis stream -> the SalesAnalytics table (per day, per campaign).
A batch is counted as a whole: its events' contributions summed per counter item and written with a marker
per event in one transaction (`eventcore.read.counters`), so a counter item is written once per batch, not
once per order, and each event is counted once however often it is delivered. Revenue is gross bookings: an
order adds its total when it is created, and a later cancellation does not subtract it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from eventcore.lambdas.batch_consumer import RecordFailure, process_kinesis_batch
from orders.analytics import sales_tally
from orders.bootstrap import OrdersWiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from eventcore.read.counters import BatchCount, Tally

logger = Logger()
tracer = Tracer()
metrics = Metrics()
counters = OrdersWiring().sales_counters()


@tracer.capture_method
def count(records: list[KinesisStreamRecord]) -> BatchCount:
    tallies: list[Tally] = []
    unreadable: list[RecordFailure] = []
    for record in records:
        source = record.kinesis.sequence_number
        try:
            tally = sales_tally(source, record.kinesis.data_as_bytes())
        except Exception as exc:  # reported and parked after the retries, never skipped
            unreadable.append(
                RecordFailure(source, record.kinesis.partition_key, f"{type(exc).__name__}: {exc}")
            )
            continue
        if tally is not None:
            tallies.append(tally)
    result = counters.add_all(tallies)
    position = {record.kinesis.sequence_number: i for i, record in enumerate(records)}
    result.failures = sorted(
        [*unreadable, *result.failures], key=lambda f: position.get(f.sequence_number, 0)
    )
    return result


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_kinesis_batch(event, count, logger=logger, metrics=metrics, done="counted")
