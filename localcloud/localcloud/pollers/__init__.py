"""The pollers that invoke functions besides HTTP: event source mappings (DynamoDB Streams, Kinesis, SQS) and
the delivery queues of asynchronous sources (SNS, EventBridge, schedules: `deliveries.py`)."""

from localcloud.pollers.base import Poller, PollerContext
from localcloud.pollers.dynamodb import DynamoDBStreamPoller
from localcloud.pollers.kinesis import KinesisPoller
from localcloud.pollers.sqs import SQSPoller

__all__ = ["DynamoDBStreamPoller", "KinesisPoller", "Poller", "PollerContext", "SQSPoller"]
