"""The read side: the log's change records (DynamoDB Streams), projectors that keep read models equal to a
replay of the log, the view stores, idempotent counters, pagination cursors, and (in `generations`) read
models kept in blue/green generations with their rebuilds."""
