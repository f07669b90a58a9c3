"""Tests at the scale an issue names, too slow for `make test` on 2 cores: `make test-scale` runs them
(marker `scale`, which `make test` deselects). Each module starts a local cloud of its own over the
project's template, with the parameters its scale needs."""
