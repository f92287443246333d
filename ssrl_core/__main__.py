"""`python -m ssrl_core ...` is the same as `ssrl ...`."""
import sys

from ssrl_core.cli import main

sys.exit(main())
