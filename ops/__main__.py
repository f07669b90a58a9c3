"""`python -m ops`: the layers on the path first, as Lambda and pytest have them (the commands decode
commits and messages with the core's own code)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for layer in ("shipping", "inventory", "payments", "orders", "eventcore"):
    path = str(ROOT / "layers" / layer)
    if path not in sys.path:
        sys.path.insert(0, path)

from ops.cli import main  # noqa: E402

sys.exit(main())
