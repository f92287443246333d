"""`python -m paper ...` is the same as `ssrl-paper ...`."""
import sys

from paper.cli import main

sys.exit(main())
