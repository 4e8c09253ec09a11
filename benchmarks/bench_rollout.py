"""`python benchmarks/bench_rollout.py [options]` is `searnn bench rollout [options]`. The benchmark
lives in searnn_ext/bench/rollout.py, so that installed packages can run it too."""

import sys

from searnn_ext.bench.rollout import main

main(sys.argv[1:])
