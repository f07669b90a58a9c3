-- How long orders wait between payment and dispatch, per week.
-- Per week (starting Monday, UTC) of the dispatch: parcels dispatched, and the median and 95th percentile of
-- the hours from the payment's authorisation (PaymentAuthorized) to the parcel's dispatch
-- (ShipmentDispatched), joined by order id across the payments and shipping contexts. Each event id counted
-- once.
WITH authorized AS (
    SELECT
        json_extract_scalar(arbitrary(data), '$.order_id') AS order_id,
        min(json_extract_scalar(data, '$.authorized_at')) AS authorized_at
    FROM events
    WHERE context = 'payments' AND fact = 'PaymentAuthorized'
    GROUP BY id
),
dispatched AS (
    SELECT
        json_extract_scalar(arbitrary(data), '$.order_id') AS order_id,
        min(json_extract_scalar(data, '$.dispatched_at')) AS dispatched_at
    FROM events
    WHERE context = 'shipping' AND fact = 'ShipmentDispatched'
    GROUP BY id
),
waits AS (
    SELECT
        CAST(date_trunc('week', from_iso8601_timestamp(d.dispatched_at)) AS date) AS week,
        date_diff('second', from_iso8601_timestamp(a.authorized_at), from_iso8601_timestamp(d.dispatched_at)) / 3600.0 AS hours
    FROM dispatched d
    JOIN (SELECT order_id, min(authorized_at) AS authorized_at FROM authorized GROUP BY order_id) a
      ON a.order_id = d.order_id
)
SELECT
    week,
    count(*) AS dispatched,
    round(approx_percentile(hours, 0.5), 2) AS wait_p50_hours,
    round(approx_percentile(hours, 0.95), 2) AS wait_p95_hours
FROM waits
GROUP BY week
ORDER BY week
