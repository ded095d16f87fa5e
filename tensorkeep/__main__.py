"""``python -m tensorkeep``: the command line (see ``tensorkeep --help``)."""

import sys

from tensorkeep.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
