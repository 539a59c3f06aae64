"""`python -m sf_assets.cli` = the `sf-assets` command."""

import sys

from sf_assets.cli import main

sys.exit(main())
