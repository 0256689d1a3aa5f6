"""`python -m kgan_nas.cli ARGS`: the `kgan-nas` command."""

import sys

from kgan_nas.cli.commands import main

if __name__ == "__main__":
    sys.exit(main())
