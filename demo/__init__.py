"""A scripted walk through the orders system against its own local cloud: `python -m demo` (`make demo`)."""
