"""How `make test` shares the tests out between its two pytest-xdist workers (`-n 2 --dist loadgroup`): by
group, a group going whole to one worker, so that its module and package fixtures (a local cloud among them)
start once. A file is a group; the end-to-end modules are one, as they share one local cloud
(tests/e2e/conftest.py).

pytest-xdist 3.8's own `loadgroup` reads the groups from a suffix it appends to each test's node id on the
worker (`item._nodeid`); pytest 9.2 keeps node ids elsewhere, so the suffix is lost and every test was
scheduled on its own (pytest-xdist issue 1386): both workers started the end-to-end cloud, and every module's
cloud, each for part of its tests. The groups are therefore worked out here, on the controller, from the
node ids themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xdist.scheduler import LoadScopeScheduling

if TYPE_CHECKING:
    import pytest
    from xdist.remote import Producer

E2E = "tests/e2e/"


def group_of(nodeid: str) -> str:
    """The group of a test: `e2e` for the end-to-end modules, its file for any other."""
    path = nodeid.split("::", 1)[0]
    return "e2e" if path.startswith(E2E) else path


class GroupScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with the groups above as scopes, handed out in the order the tests were
    collected (tests/conftest.py puts the longest groups first), not by their number of tests: the restart
    test is one test of 40 s, and handed out last it would keep one worker busy alone at the end."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        config.option.loadscopereorder = False
        super().__init__(config, log)

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)
