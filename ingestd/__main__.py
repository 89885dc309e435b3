"""`python -m ingestd` is the `ingestd` command."""

from ingestd.cli import main

main()
