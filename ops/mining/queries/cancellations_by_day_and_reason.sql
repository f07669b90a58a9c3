-- Cancellations per day and reason.
-- Per day the order was cancelled (UTC) and reason (customer_request, payment_declined, out_of_stock,
-- payment_timeout, stock_timeout, address_erased): how many orders were cancelled. Each event id counted once.
SELECT
    substr(json_extract_scalar(data, '$.cancelled_at'), 1, 10) AS day,
    json_extract_scalar(data, '$.reason') AS reason,
    count(*) AS cancellations
FROM (
    SELECT id, arbitrary(data) AS data
    FROM events
    WHERE context = 'orders' AND fact = 'OrderCancelled'
    GROUP BY id
) AS cancelled
GROUP BY 1, 2
ORDER BY 1, 2
