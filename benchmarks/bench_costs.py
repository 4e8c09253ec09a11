"""`python benchmarks/bench_costs.py [options]` is `searnn bench costs [options]`. The benchmark
lives in searnn_ext/bench/costs.py, so that installed packages can run it too."""

import sys

from searnn_ext.bench.costs import main

main(sys.argv[1:])
