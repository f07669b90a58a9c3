"""What the order-fulfillment process sends: the commands each of its events calls for, to the queue of the
context that acts on them, and which refusals of them the receiver may take as final. The process is the
one place where one context's fact becomes another context's command (docs/order-lifecycle.md): orders,
payments, inventory and shipping never command each other directly.

Every command id derives from the fact that caused it (`derived_id(command type, cause id[, part])`), so a
redelivered fact sends the same commands again (a crash may have come between recording and sending) and
nothing is applied twice: SQS deduplicates for five minutes, the receiving log after that. FIFO message
groups keep an order's commands in order, one group per order (inventory forwards its own to a writer per
bucket of a SKU's stock: nothing here knows of buckets)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventcore.messaging.command_sender import MAX_DELAY_SECONDS, OutgoingCommand
from eventcore.messaging.inbound import CommandMessage
from eventcore.write.command_ids import derived_id
from orders.errors import OrderAlreadyCancelledError, OrderAlreadyShippedError, OrderError
from orders.fulfillment.events import (
    AuthorisationExpiring,
    AuthorisationWatched,
    CaptureRecorded,
    DeliveryRecorded,
    DispatchRecorded,
    FulfillmentCancelled,
    FulfillmentCompleted,
    FulfillmentStarted,
    LateAnswerCompensated,
    ReturnDeadlinePassed,
    ReturnOpened,
    ReturnRefundRecorded,
    ReturnSettling,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from eventcore import Event
    from eventcore.write.command_ids import Cause

# The queues the process sends to, by the names its configuration gives their URLs.
ORDERS, PAYMENTS, INVENTORY, SHIPPING, DEADLINES = "orders", "payments", "inventory", "shipping", "deadlines"
QUEUES = (ORDERS, PAYMENTS, INVENTORY, SHIPPING, DEADLINES)

# The refusals of the process's order commands that are final and safe to acknowledge: retrying cannot
# change them, and nothing is left dangling, or a person has been told. A ConfirmOrder for an order the
# customer cancelled first: the process compensates on OrderCancelled. A CancelOrder (payment declined) for
# an order already shipped: the declined payment charged nothing, and a shipped order is never cancelled.
# A ShipOrder for an order the customer cancelled in the same moment: the process has recorded the race
# (CancellationRacedDispatch, with its alarm) for a person. Every other refusal fails the message, to be
# retried and then parked for a person.
FINAL_ORDER_REFUSALS: dict[str, tuple[type[OrderError], ...]] = {
    "ConfirmOrder": (OrderAlreadyCancelledError,),
    "CancelOrder": (OrderAlreadyShippedError,),
    "ShipOrder": (OrderAlreadyCancelledError,),
}


def return_receipt_id(return_id: str, sku: str) -> str:
    """The inventory receipt of a return's units of one SKU: the same for every delivery of the return."""
    return derived_id("return", return_id, sku)


def commands_for(event: Event, cause: Cause, skus: Sequence[str], now: datetime) -> list[OutgoingCommand]:
    """The commands one of the process's events calls for; `skus` are the order's lines, `now` times the
    deadline's delay."""
    match event:
        case FulfillmentStarted() as started:
            reservations = [
                _command(
                    INVENTORY,
                    "ReserveStock",
                    cause,
                    {
                        "sku": line.sku,
                        "order_id": started.order_id,
                        "quantity": line.quantity,
                        "expires_at": started.deadline_at.isoformat(),
                    },
                    group_id=started.order_id,  # the order's commands in order; inventory routes them
                    part=line.sku,
                )
                for line in started.lines
            ]
            payment = _command(
                PAYMENTS,
                "RequestPayment",
                cause,
                {
                    "order_id": started.order_id,
                    "customer_id": started.customer_id,
                    "amount": started.amount,
                    "currency": started.currency,
                    **({"payment_method": started.payment_method} if started.payment_method else {}),
                },
                group_id=started.order_id,
            )
            deadline = _command(
                DEADLINES,
                "CheckDeadline",
                cause,
                {"order_id": started.order_id, "deadline_at": started.deadline_at.isoformat()},
            )
            return [
                *reservations,
                payment,
                *_plan_parcel(started, cause),
                delayed(deadline, started.deadline_at, now),
            ]
        case FulfillmentCompleted() as completed:
            confirm = {
                "order_id": completed.order_id,
                "payment_id": completed.payment_id,
                "at": completed.completed_at.isoformat(),
            }
            ready = {"order_id": completed.order_id, "at": completed.completed_at.isoformat()}
            return [
                _command(ORDERS, "ConfirmOrder", cause, confirm, group_id=completed.order_id),
                _command(SHIPPING, "MarkShipmentReady", cause, ready, group_id=completed.order_id),
            ]
        case FulfillmentCancelled() as cancelled:
            return _compensations(cancelled, cause, skus)
        case DispatchRecorded() as dispatched:
            # What each line held leaves the warehouse with the parcel; the order learns its tracking.
            commits = [
                _command(
                    INVENTORY,
                    "CommitStock",
                    cause,
                    {"sku": sku, "order_id": dispatched.order_id},
                    group_id=dispatched.order_id,
                    part=sku,
                )
                for sku in skus
            ]
            shipped = {
                "order_id": dispatched.order_id,
                "carrier": dispatched.carrier,
                "tracking_number": dispatched.tracking_number,
                "at": dispatched.dispatched_at.isoformat(),
            }
            ship = _command(ORDERS, "ShipOrder", cause, shipped, group_id=dispatched.order_id)
            if not dispatched.capture:
                return [*commits, ship]  # recorded before payments captured: nothing to take
            # What shipped is taken from the authorisation; payments retries it while the provider is down.
            capture = {"order_id": dispatched.order_id, "amount": dispatched.capture}
            return [
                *commits,
                ship,
                _command(PAYMENTS, "CapturePayment", cause, capture, group_id=dispatched.order_id),
            ]
        case AuthorisationWatched() as watched:
            look = _command(
                DEADLINES,
                "CheckDeadline",
                cause,
                {
                    "order_id": watched.order_id,
                    "watch": "authorisation",
                    "deadline_at": watched.check_at.isoformat(),
                },
                part="authorisation",
            )
            return [delayed(look, watched.check_at, now)]
        case AuthorisationExpiring() as expiring:
            flagged = {
                "order_id": expiring.order_id,
                "expires_at": expiring.expires_at.isoformat(),
                "at": expiring.noticed_at.isoformat(),
            }
            return [_command(ORDERS, "FlagAuthorisationExpiring", cause, flagged, group_id=expiring.order_id)]
        case CaptureRecorded() as captured:
            payload = {
                "order_id": captured.order_id,
                "amount": captured.amount,
                "at": captured.captured_at.isoformat(),
            }
            return [_command(ORDERS, "RecordCapture", cause, payload, group_id=captured.order_id)]
        case ReturnOpened() as opened:
            deadline = _command(
                DEADLINES,
                "CheckDeadline",
                cause,
                {
                    "order_id": opened.order_id,
                    "return_id": opened.return_id,
                    "deadline_at": opened.deadline_at.isoformat(),
                },
            )
            return [delayed(deadline, opened.deadline_at, now)]
        case ReturnSettling() as settling:
            restock = [
                _command(
                    INVENTORY,
                    "ReceiveStock",
                    cause,
                    {
                        "sku": line.sku,
                        "order_id": settling.order_id,
                        "receipt_id": return_receipt_id(settling.return_id, line.sku),
                        "quantity": line.quantity,
                    },
                    group_id=settling.order_id,
                    part=line.sku,
                )
                for line in settling.restock
            ]
            if settling.refund <= 0:  # nothing to give back (goods without a price): the return is settled
                refunded = {
                    "order_id": settling.order_id,
                    "return_id": settling.return_id,
                    "amount": 0,
                    "at": settling.received_at.isoformat(),
                }
                return [
                    *restock,
                    _command(ORDERS, "RecordReturnRefund", cause, refunded, group_id=settling.order_id),
                ]
            refund = {
                "order_id": settling.order_id,
                "refund_id": settling.return_id,
                "amount": settling.refund,
            }
            return [*restock, _command(PAYMENTS, "RefundPayment", cause, refund, group_id=settling.order_id)]
        case ReturnRefundRecorded() as refunded:
            payload = {
                "order_id": refunded.order_id,
                "return_id": refunded.return_id,
                "amount": refunded.amount,
                "at": refunded.refunded_at.isoformat(),
            }
            return [_command(ORDERS, "RecordReturnRefund", cause, payload, group_id=refunded.order_id)]
        case ReturnDeadlinePassed() as passed:
            payload = {
                "order_id": passed.order_id,
                "return_id": passed.return_id,
                "at": passed.passed_at.isoformat(),
            }
            return [_command(ORDERS, "ExpireReturn", cause, payload, group_id=passed.order_id)]
        case DeliveryRecorded() as delivered:
            payload = {"order_id": delivered.order_id, "at": delivered.delivered_at.isoformat()}
            return [_command(ORDERS, "DeliverOrder", cause, payload, group_id=delivered.order_id)]
        case LateAnswerCompensated(kind="stock", sku=str() as sku) as late:
            return [_release(late.order_id, sku, "late reservation after cancellation", cause)]
        case LateAnswerCompensated() as late:
            return [_void(late.order_id, "late authorisation after cancellation", cause)]
    return []


def delayed(command: OutgoingCommand, deadline_at: datetime, now: datetime) -> OutgoingCommand:
    """The command delayed until `deadline_at`, or by SQS's longest delay when that is further away (the
    receiver sends it again for the time left)."""
    left = (deadline_at - now).total_seconds()
    delay = min(max(int(left + 0.999), 0), MAX_DELAY_SECONDS)
    return OutgoingCommand(command.queue, command.message, delay_seconds=delay)


def _plan_parcel(started: FulfillmentStarted, cause: Cause) -> list[OutgoingCommand]:
    if started.parcel is None:
        return []  # a process from before it drove shipping: shipping planned the parcel itself
    payload = {
        "order_id": started.order_id,
        "customer_id": started.customer_id,
        **started.parcel.model_dump(mode="json"),
        "at": started.started_at.isoformat(),
    }
    return [_command(SHIPPING, "PlanShipment", cause, payload, group_id=started.order_id)]


def _compensations(
    cancelled: FulfillmentCancelled, cause: Cause, skus: Sequence[str]
) -> list[OutgoingCommand]:
    """Cancel the order (unless it is cancelled already), release every line, void the payment, cancel the
    parcel: each of them is harmless where nothing was held, authorised or planned."""
    commands = []
    at = cancelled.cancelled_at.isoformat()
    if cancelled.cancel_order:
        payload: dict[str, Any] = {
            "order_id": cancelled.order_id,
            "reason": cancelled.reason,
            "requested_by": None,
            "at": at,
        }
        commands.append(_command(ORDERS, "CancelOrder", cause, payload, group_id=cancelled.order_id))
    reason = f"order cancelled: {cancelled.reason}"
    commands.extend(_release(cancelled.order_id, sku, reason, cause) for sku in skus)
    commands.append(_void(cancelled.order_id, reason, cause))
    parcel = {"order_id": cancelled.order_id, "reason": cancelled.reason, "at": at}
    commands.append(_command(SHIPPING, "CancelShipment", cause, parcel, group_id=cancelled.order_id))
    return commands


def _release(order_id: str, sku: str, reason: str, cause: Cause) -> OutgoingCommand:
    payload = {"sku": sku, "order_id": order_id, "reason": reason[:64]}
    return _command(INVENTORY, "ReleaseStock", cause, payload, group_id=order_id, part=sku)


def _void(order_id: str, reason: str, cause: Cause) -> OutgoingCommand:
    payload = {"order_id": order_id, "reason": reason}
    return _command(PAYMENTS, "VoidPayment", cause, payload, group_id=order_id)


def _command(
    queue: str,
    command_type: str,
    cause: Cause,
    payload: dict[str, Any],
    *,
    group_id: str | None = None,
    part: str | None = None,
) -> OutgoingCommand:
    """A command caused by `cause`; `part` tells apart the commands of one type that one cause sends."""
    parts = (cause.id,) if part is None else (cause.id, part)
    message = CommandMessage(
        command_type=command_type,
        command_id=derived_id(command_type, *parts),
        payload=payload,
        correlation_id=cause.correlation_id,
        causation_id=cause.causation_id,
    )
    return OutgoingCommand(queue, message, group_id=group_id)
