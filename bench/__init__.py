"""Benchmarks for `make bench`: each module's run() returns rows of {name, value, unit, floor, ok}."""
