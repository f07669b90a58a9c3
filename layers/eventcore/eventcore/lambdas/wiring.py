"""What every context's composition root builds from a function's environment, written once: the AWS
clients, the context's event log, runners over it, the personal data vault and read models in generations.
Each part is built on first use and kept by the instance, and a function builds its root once, at import
(once per container): a warm invocation builds nothing, and a function reads only the settings of what it
uses. A context's root (`orders.bootstrap`, `payments.bootstrap`, ...) adds its services on top."""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING

import boto3

from eventcore.personal_data import PersonalDataVault
from eventcore.read.generations.projector import GenerationalProjector, GenerationalView
from eventcore.write.dynamodb_store import DynamoDBEventStore
from eventcore.write.runner import DeciderRunner

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_sqs import SQSClient

    from eventcore.read.projector import Projection
    from eventcore.write.decider import Decider

EVENT_LOG_TABLE = "EVENT_LOG_TABLE"


class Wiring:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.env: Mapping[str, str] = os.environ if environ is None else environ

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return boto3.client("dynamodb")

    @cached_property
    def sqs(self) -> SQSClient:
        return boto3.client("sqs")

    @cached_property
    def kinesis(self) -> KinesisClient:
        return boto3.client("kinesis")

    @cached_property
    def event_log(self) -> DynamoDBEventStore:
        """The context's event log, EVENT_LOG_TABLE."""
        return DynamoDBEventStore(self.env[EVENT_LOG_TABLE], self.dynamodb)

    @cached_property
    def vault(self) -> PersonalDataVault:
        """The personal data vault (PERSONAL_DATA_KEYS_TABLE, PERSONAL_DATA_KMS_KEY), from this root's
        environment, as `has_vault` reads it."""
        return PersonalDataVault.from_environment(self.dynamodb, self.env)

    @property
    def has_vault(self) -> bool:
        return "PERSONAL_DATA_KEYS_TABLE" in self.env

    def runner[C, S](self, decider: Decider[C, S]) -> DeciderRunner[C, S]:
        """A runner over the event log: its memory image lives as long as the function's root."""
        return DeciderRunner(decider, self.event_log)

    def view(self, projection: Projection) -> GenerationalView:
        """A read model in generations, as VIEW_TABLES and VIEW_GENERATIONS name it."""
        return GenerationalView.from_environment(projection, self.dynamodb, self.env)

    def projector(self, projection: Projection) -> GenerationalProjector:
        """The projector feeding every fed generation of a read model, over the event log."""
        return GenerationalProjector.from_environment(projection, self.dynamodb, self.env)
