"""``python -m containerpoker.cli``."""

from . import main

main()
