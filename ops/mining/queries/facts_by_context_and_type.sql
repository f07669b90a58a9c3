-- What the archive holds: facts per context, type and day.
-- Per context, fact type and day of delivery partition: the records in the archive's files and the distinct
-- event ids among them. Records above ids are duplicates of at-least-once delivery; every other query
-- counts each event id once.
SELECT
    context,
    fact,
    day,
    count(*) AS records,
    count(DISTINCT id) AS events
FROM events
GROUP BY context, fact, day
ORDER BY context, fact, day
