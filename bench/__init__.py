"""Benchmarks (never timed assertions in tests): `python -m bench` or `make bench`."""
