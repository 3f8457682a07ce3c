"""``python -m cowait`` runs the command line."""

from cowait.cli.main import main

main()
