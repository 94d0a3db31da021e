"""`python -m archdsl`: the command line (see archdsl.cli)."""

import sys

try:
    from archdsl.cli import main
except KeyboardInterrupt:  # Ctrl-C before main() could catch it
    sys.exit(130)

sys.exit(main())
