"""Messages between bounded contexts: the event log's commits published as CloudEvents on Kinesis, published
events and queued commands read by their consumers, and commands sent to other contexts' SQS FIFO queues."""
