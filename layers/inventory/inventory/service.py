"""The inventory application service: what the warehouse does when the order-fulfillment process manager
queues a reservation, a release or a commitment, and when staff receive goods or ask what is in stock. It
opens a SKU's stock with its configured balance the first time the SKU is touched, derives command ids,
and runs the Stock decider through the core's runner."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from eventcore import fingerprint
from eventcore.write.command_ids import command_fingerprint, derived_id
from inventory.commands import CommitStock, OpenStock, ReceiveStock, ReleaseStock, ReserveStock
from inventory.errors import StockNotOpenedError, UnknownSkuError
from inventory.queued import ReleasePayload, ReservePayload, read_queued_command

if TYPE_CHECKING:
    from collections.abc import Callable

    from eventcore import CommandResult, DeciderRunner
    from eventcore.messaging.inbound import CommandMessage
    from inventory.commands import StockCommand
    from inventory.stock import Stock


@dataclass(frozen=True, slots=True)
class StockLevels:
    sku: str
    on_hand: int
    reserved: int
    available: int
    version: int


@dataclass(frozen=True, slots=True)
class StockAnswer:
    """What a command did to a SKU's stock: the events it recorded (none when already satisfied)."""

    stock: Stock
    version: int
    recorded: tuple[str, ...]
    replayed: bool

    @property
    def levels(self) -> StockLevels:
        return _levels(self.stock, self.version)


class InventoryService:
    def __init__(
        self,
        runner: DeciderRunner[StockCommand, Stock | None],
        initial_stock: Callable[[], dict[str, int]],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.runner = runner
        self._initial_stock = initial_stock
        self._clock = clock
        self._new_id = new_id

    def apply_queued(self, message: CommandMessage) -> StockAnswer:
        """Apply a command another context queued, idempotently by its command id."""
        command = self._read_queued(message)
        return self._handle(
            command,
            command_id=message.command_id,
            fingerprint=fingerprint(message.payload),
            correlation_id=message.correlation_id,
            causation_id=message.causation_id,
        )

    def receive(
        self, sku: str, quantity: int, *, idempotency_key: str | None, correlation_id: str | None
    ) -> StockAnswer:
        """Staff received goods. The same Idempotency-Key is the same receipt, however often it is sent."""
        self._opening_balance(sku)  # first: a SKU the warehouse does not keep is refused before anything
        receipt_id = idempotency_key or self._new_id()
        command = ReceiveStock(sku=sku, receipt_id=receipt_id, quantity=quantity, at=self._clock())
        return self._handle(
            command,
            command_id=derived_id("ReceiveStock", receipt_id),
            fingerprint=command_fingerprint(command),
            correlation_id=correlation_id,
        )

    def levels(self, sku: str) -> StockLevels:
        """What is on hand, held and available now, read from the log (a SKU never touched: its opening)."""
        opening = self._opening_balance(sku)  # first: a SKU the warehouse does not keep is never looked up
        aggregate = self.runner.load(sku)
        if aggregate.state is None:
            return StockLevels(sku, opening, 0, opening, 0)
        return _levels(aggregate.state, aggregate.version)

    def _handle(
        self,
        command: ReserveStock | ReleaseStock | CommitStock | ReceiveStock,
        *,
        command_id: str,
        fingerprint: str,
        correlation_id: str | None,
        causation_id: str | None = None,
    ) -> StockAnswer:
        """Apply the command; the first command a SKU ever gets opens its stock first (one extra commit)."""
        for _ in range(2):
            try:
                result = self.runner.handle(
                    command.sku,
                    command,
                    command_id=command_id,
                    fingerprint=fingerprint,
                    correlation_id=correlation_id,
                    causation_id=causation_id,
                )
            except StockNotOpenedError:
                self._open(command.sku)
                continue
            return _answer(result)
        raise StockNotOpenedError(command.sku)

    def _open(self, sku: str) -> None:
        """Open the SKU's stock with its configured balance, once: every later command finds it open."""
        opening = OpenStock(sku=sku, quantity=self._opening_balance(sku), at=self._clock())
        self.runner.handle(
            sku,
            opening,
            command_id=derived_id("OpenStock", sku),
            # The balance is left out: the configuration may change, the opening happened once.
            fingerprint=fingerprint({"sku": sku}),
        )

    def _opening_balance(self, sku: str) -> int:
        balances = self._initial_stock()
        if sku not in balances:
            raise UnknownSkuError(sku)
        return balances[sku]

    def _read_queued(self, message: CommandMessage) -> ReserveStock | ReleaseStock | CommitStock:
        payload = read_queued_command(message)
        at = self._clock()
        match payload:
            case ReservePayload():
                return ReserveStock(
                    sku=payload.sku,
                    order_id=payload.order_id,
                    quantity=payload.quantity,
                    expires_at=payload.expires_at,
                    at=at,
                )
            case ReleasePayload():
                return ReleaseStock(sku=payload.sku, order_id=payload.order_id, reason=payload.reason, at=at)
        return CommitStock(sku=payload.sku, order_id=payload.order_id, at=at)


def _levels(stock: Stock, version: int) -> StockLevels:
    return StockLevels(stock.sku, stock.on_hand, stock.reserved, stock.available, version)


def _answer(result: CommandResult[Stock | None]) -> StockAnswer:
    if result.state is None:  # every command but opening needs an open stock, and opening makes one
        raise RuntimeError(f"stock {result.aggregate_id} has no state after a command")
    return StockAnswer(
        result.state, result.version, tuple(event.event_type() for event in result.events), result.duplicate
    )
