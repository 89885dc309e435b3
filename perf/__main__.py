"""`python -m perf`: see perf/run.py."""

from perf.run import main

main()
