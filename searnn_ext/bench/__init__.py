"""Speed benchmarks: `searnn bench costs` and `searnn bench rollout`."""
