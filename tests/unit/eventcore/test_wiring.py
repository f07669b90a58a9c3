"""What a composition root builds from the environment it is given: every part from that one mapping, so a
root given an environment (a test's, another region's) never reads the process's by accident."""

from __future__ import annotations

import pytest

from eventcore.lambdas.wiring import Wiring

VAULT = {
    "PERSONAL_DATA_KEYS_TABLE": "wiring-test-personal-data-keys",
    "PERSONAL_DATA_KMS_KEY": "alias/wiring-test",
    "PERSONAL_DATA_KEY_CACHE_SECONDS": "7",
}


class TestTheVault:
    def test_it_is_built_from_the_roots_environment_as_has_vault_reads_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # GIVEN a process environment naming no vault, and a root given one that does
        for name in VAULT:
            monkeypatch.delenv(name, raising=False)
        wiring = Wiring(VAULT)
        # WHEN it is asked whether it has a vault, and for the vault
        # THEN both answers come from the root's environment
        assert wiring.has_vault
        assert wiring.vault.table_name == "wiring-test-personal-data-keys"

    def test_a_root_without_one_says_so(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in VAULT.items():
            monkeypatch.setenv(name, value)  # the process's environment does not count
        assert not Wiring({}).has_vault
