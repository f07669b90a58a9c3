"""Event source mappings emulated from a template's function Events: DynamoDB Streams, Kinesis and SQS."""

from localcloud.pollers.base import Poller, PollerContext
from localcloud.pollers.dynamodb import DynamoDBStreamPoller
from localcloud.pollers.kinesis import KinesisPoller
from localcloud.pollers.sqs import SQSPoller

__all__ = ["DynamoDBStreamPoller", "KinesisPoller", "Poller", "PollerContext", "SQSPoller"]
