"""``python -m openmps`` is the ``openmps`` command."""

from openmps.cli.main import main

main()
