"""The write side: aggregates as deciders, their event logs (one item per commit, conditional writes), the
runner that loads, decides and appends, command ids, and reads of an aggregate's past (audit trail, time
travel)."""
