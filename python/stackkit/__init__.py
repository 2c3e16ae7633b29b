"""The stack's Python toolkit: the servers the tests, `scripts/stack` and
`scripts/bench` start and stop (MariaDB, Prometheus, Alertmanager and Jaeger,
each a ManagedServer of stackkit.server; a Telegram capture server), the
locations of the pinned tool builds (tools), compose.yaml as data (compose),
the native stack runner and the probes the end-to-end tests share.

Import it with `python/` on PYTHONPATH: CTest and the scripts set that, and
pytest reads `pythonpath` from pyproject.toml.
"""
