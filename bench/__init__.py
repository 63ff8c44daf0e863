"""Benchmark harness for the OCPP pipeline (gateway → bridge → Celery → reply).

``python -m bench --help``; docs/BENCHMARKS.md has the method and the results.

Modules: `mix` (the chargers' messages and the checks of every reply), `loadgen`
(client processes over real WebSockets), `systems` (the project as ``make run``
starts it, the baseline server, a private Redis, per-process CPU/RSS metering),
`baseline_server` (a single-process CSMS written as the ``ocpp`` package documents),
`scenarios` (what runs), `report` (tables, JSON lines, plot), `cli`.
"""
