"""What a promotion sends again (ops/failover.py, docs/failover.md): the commands a process's recorded events
call for, rebuilt from its log alone, are the very commands the process manager sent (the same ids, queues,
groups and payloads), for facts heard and for a deadline that passed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from eventcore import DeciderRunner, InMemoryEventStore
from ops.failover import cause_id, commands_of, process_state, resumable
from orders.fulfillment import decider
from orders.fulfillment.process import Outcome
from orders.fulfillment.service import FulfillmentService
from tests.unit.orders.test_fulfillment_service import (
    AUTHORIZED,
    CREATED,
    DEADLINE,
    ORDER,
    RESERVED,
    SOURCES,
    T0,
    Clock,
    RecordingSender,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def service(sender: RecordingSender, clock: Clock) -> FulfillmentService:
    return FulfillmentService(
        DeciderRunner(decider(DEADLINE), InMemoryEventStore()), sender, sources=SOURCES, clock=clock
    )


def sent_as(commands) -> list[tuple]:
    return [
        (c.queue, c.message.command_type, c.message.command_id, c.group_id, c.message.payload)
        for c in commands
    ]


def test_the_cause_of_a_derived_command_id_is_read_back():
    assert cause_id("RequestPayment:e-created") == "e-created"
    assert cause_id("DeadlinePassed:CheckDeadline%3Ae-created") == "CheckDeadline:e-created"


def test_a_completed_process_sends_again_what_it_sent(service, sender, clock):
    # GIVEN a process that heard its order, its stock and its payment
    for fact in (CREATED, RESERVED, AUTHORIZED):
        service.react(fact)
    _, sent = sender.take()
    # WHEN a promotion rebuilds what it sends from its log alone, at the same moment
    commits = list(service.runner.store.read(f"Fulfillment-{ORDER}"))
    state = process_state(commits)
    assert state is not None
    again = commands_of(commits, state, clock())
    # THEN the same commands, with the same ids
    assert sent_as(again) == sent_as(sent)
    assert state.outcome is Outcome.COMPLETED
    last = datetime.fromisoformat(commits[-1].committed_at)
    assert resumable(state, commits, last + timedelta(days=1))  # its parcel has not left yet: in flight


def test_a_deadline_that_passed_sends_its_compensations_again(service, sender, clock):
    service.react(CREATED)
    _, started = sender.take()
    (deadline,) = [c for c in started if c.message.command_type == "CheckDeadline"]
    clock.now = T0 + DEADLINE
    service.deadline(deadline.message)
    _, compensations = sender.take()
    commits = list(service.runner.store.read(f"Fulfillment-{ORDER}"))
    state = process_state(commits)
    assert state is not None
    assert state.outcome is Outcome.CANCELLED
    again = commands_of(commits, state, clock())
    assert sent_as(again) == sent_as(started) + sent_as(compensations)
    # finished: resumed only while its last fact is recent
    last = datetime.fromisoformat(commits[-1].committed_at)
    assert resumable(state, commits, last)
    assert not resumable(state, commits, last + timedelta(seconds=1))
