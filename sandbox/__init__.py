"""A local StatusPal Next API: the default upstream of a fresh clone, the tests and the benchmarks."""

from sandbox.app import create_sandbox_app, start_sandbox

__all__ = ["create_sandbox_app", "start_sandbox"]
