"""Sales analytics: the `order-events` Kinesis stream -> the SalesAnalytics table (per day, per campaign).
Each event is counted once however often it is delivered: its contribution is added in one transaction
with a marker keyed by its CloudEvent id. Events are independent here (counters commute), so the plain
Powertools batch processor fits: one record at a time, failures reported per record. Revenue is gross
bookings: an order adds its total when it is created, and a later cancellation does not subtract it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from eventcore.lambdas.batch_consumer import process_batch
from eventcore.messaging.inbound import read_published_event
from orders.analytics import sales_contributions
from orders.bootstrap import OrdersWiring
from orders.events import order_events

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
counters = OrdersWiring().sales_counters()


@tracer.capture_method
def record_handler(record: KinesisStreamRecord) -> None:
    published = read_published_event(record.kinesis.data_as_bytes())
    # Upcast to the current schema, so the counters read one shape whatever version was published. A type
    # or version this code does not know raises: the record is reported and parked, never silently skipped.
    event = order_events.decode_data(published.event_type, published.schema_version, published.data)
    contributions = sales_contributions(event)
    if not contributions:
        return  # an order event that moves no sales figure
    counted = counters.add(published.event_id, contributions)
    metrics.add_metric(
        name="AnalyticsEventsCounted" if counted else "AnalyticsDuplicatesSkipped",
        unit=MetricUnit.Count,
        value=1,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_batch(event, record_handler, processor, context, logger=logger, metrics=metrics)
