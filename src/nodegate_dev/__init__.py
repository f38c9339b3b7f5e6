"""Development-only helpers that tests, the benchmark and the conformance run import; never shipped."""
