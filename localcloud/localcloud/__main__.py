"""`python -m localcloud run | token | invoke`."""

import sys

from localcloud.cli import main

if __name__ == "__main__":
    sys.exit(main())
