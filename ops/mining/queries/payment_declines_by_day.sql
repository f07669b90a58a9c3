-- Payment declines per day.
-- Per day the payment was asked for (UTC): payments requested, declined, and the share declined, with the
-- providers' reasons. Each event id counted once.
WITH facts AS (
    SELECT id, arbitrary(fact) AS fact, arbitrary(subject) AS payment_id, arbitrary(data) AS data
    FROM events
    WHERE context = 'payments' AND fact IN ('PaymentRequested', 'PaymentDeclined')
    GROUP BY id
),
payments AS (
    SELECT
        payment_id,
        max(CASE WHEN fact = 'PaymentRequested' THEN substr(json_extract_scalar(data, '$.requested_at'), 1, 10) END) AS day,
        max(CASE WHEN fact = 'PaymentDeclined' THEN json_extract_scalar(data, '$.reason') END) AS declined_reason
    FROM facts
    GROUP BY payment_id
)
SELECT
    day,
    count(*) AS requested,
    count(declined_reason) AS declined,
    round(CAST(count(declined_reason) AS double) / count(*), 4) AS declined_share,
    array_join(array_sort(array_agg(DISTINCT declined_reason) FILTER (WHERE declined_reason IS NOT NULL)), ', ') AS reasons
FROM payments
WHERE day IS NOT NULL
GROUP BY day
ORDER BY day
