"""Benchmarks: `make bench` (python -m benchmarks.run_all) writes results/bench/<subject>.json."""
