"""The region: AWS_REGION, else samconfig.toml's, else eu-west-1; the pseudo parameters follow it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.template import load_template, parameter_values, region_for
from support import SAMPLE

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def template_in(folder: Path, samconfig: str | None = None) -> Path:
    path = folder / "template.yaml"
    path.write_text((SAMPLE / "template.yaml").read_text())
    if samconfig is not None:
        (folder / "samconfig.toml").write_text(samconfig)
    return path


def test_aws_region_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-south-2")
    path = template_in(tmp_path, 'version = 0.1\n[default.deploy.parameters]\nregion = "us-east-2"\n')
    assert region_for(path) == "ap-south-2"


def test_samconfig_gives_it_when_the_environment_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION")
    deploy = template_in(tmp_path, 'version = 0.1\n[default.deploy.parameters]\nregion = "us-east-2"\n')
    assert region_for(deploy) == "us-east-2"
    (tmp_path / "samconfig.toml").write_text(
        'version = 0.1\n[default.global.parameters]\nregion = "sa-east-1"\n'
    )
    assert region_for(deploy) == "sa-east-1"


def test_eu_west_1_otherwise_and_the_pseudo_parameters_follow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION")
    path = template_in(tmp_path)
    assert region_for(path) == "eu-west-1"
    values = parameter_values(load_template(path), path, region="us-west-2")
    assert values["AWS::Region"] == "us-west-2"
    assert values["AWS::StackId"].startswith("arn:aws:cloudformation:us-west-2:")
