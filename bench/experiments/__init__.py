"""Proposed server changes, applied on top of ``config.asgi`` so the benchmark can measure them first.

``python -m bench fan-out --app bench.experiments.app:application --env CONFAB_BENCH_PATCHES=fast_dispatch``
Each patch stands for an exact diff in docs/benchmarks.md ("Findings"); they
are measurement aids for code the harness does not own, never deployed.
"""
