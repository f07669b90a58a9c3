-- Time from placement to confirmation, dispatch and delivery: median and p95 per day.
-- Per day the order was placed (UTC): how many orders reached each step, and the median and 95th
-- percentile of the seconds from placement to confirmation (OrderConfirmed), to dispatch (OrderShipped) and
-- to delivery (OrderDelivered). Percentiles are approximate on Athena (approx_percentile), interpolated on
-- DuckDB. Each event id counted once.
WITH facts AS (
    SELECT id, arbitrary(fact) AS fact, arbitrary(subject) AS order_id, arbitrary(data) AS data
    FROM events
    WHERE context = 'orders'
      AND fact IN ('OrderCreated', 'OrderConfirmed', 'OrderShipped', 'OrderDelivered')
    GROUP BY id
),
orders AS (
    SELECT
        order_id,
        max(CASE WHEN fact = 'OrderCreated' THEN json_extract_scalar(data, '$.placed_at') END) AS placed_at,
        max(CASE WHEN fact = 'OrderConfirmed' THEN json_extract_scalar(data, '$.confirmed_at') END) AS confirmed_at,
        max(CASE WHEN fact = 'OrderShipped' THEN json_extract_scalar(data, '$.shipped_at') END) AS shipped_at,
        max(CASE WHEN fact = 'OrderDelivered' THEN json_extract_scalar(data, '$.delivered_at') END) AS delivered_at
    FROM facts
    GROUP BY order_id
),
durations AS (
    SELECT
        substr(placed_at, 1, 10) AS day,
        date_diff('millisecond', from_iso8601_timestamp(placed_at), from_iso8601_timestamp(confirmed_at)) / 1000.0 AS to_confirmation,
        date_diff('millisecond', from_iso8601_timestamp(placed_at), from_iso8601_timestamp(shipped_at)) / 1000.0 AS to_dispatch,
        date_diff('millisecond', from_iso8601_timestamp(placed_at), from_iso8601_timestamp(delivered_at)) / 1000.0 AS to_delivery
    FROM orders
    WHERE placed_at IS NOT NULL
)
SELECT
    day,
    count(*) AS orders,
    count(to_confirmation) AS confirmed,
    round(approx_percentile(to_confirmation, 0.5), 1) AS confirmation_p50_s,
    round(approx_percentile(to_confirmation, 0.95), 1) AS confirmation_p95_s,
    count(to_dispatch) AS dispatched,
    round(approx_percentile(to_dispatch, 0.5), 1) AS dispatch_p50_s,
    round(approx_percentile(to_dispatch, 0.95), 1) AS dispatch_p95_s,
    count(to_delivery) AS delivered,
    round(approx_percentile(to_delivery, 0.5), 1) AS delivery_p50_s,
    round(approx_percentile(to_delivery, 0.95), 1) AS delivery_p95_s
FROM durations
GROUP BY day
ORDER BY day
