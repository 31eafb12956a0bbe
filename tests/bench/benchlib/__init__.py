"""Modules of tests/bench/run."""
