"""Speed benchmarks of explore-bench against its peers and the raw environment.

Not part of the test run. ``python -m benchmarks.run`` measures everything and writes
``benchmarks/RESULTS.md``; see `benchmarks.run` for what is compared and how.
"""
