"""Imported first by the in-process benchmarks: puts the layers and the repo on the path, as Lambda and
pytest do, and gives boto3 a fake account for moto, so a benchmark runs standalone and offline."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "eventcore"), str(ROOT / "layers" / "orders"), str(ROOT)]
for name, value in {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}.items():
    os.environ.setdefault(name, value)
