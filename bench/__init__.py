"""Benchmarks: `make bench` runs every module in SECTIONS and rewrites docs/benchmarks.md."""
