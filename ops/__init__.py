"""The operator's command line for the orders microsystem: dead-letter queues, an order's whole story,
read-model rebuilds and the template's alarms, against the local cloud by default or a deployed stack by
name. `python -m ops --help`; docs/operations.md."""
