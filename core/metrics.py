"""The app's own Prometheus metrics, counted where the work happens (docs/operations.md, "Metrics").

Labels are fixed sets an operator chose (agent, connection name, task name, outcome), never a user's
content or an id: each label value is a time series of its own. Under gunicorn and Celery every process
writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up (prometheus_client's
multiprocess mode), so these are counters and histograms only.
"""

from prometheus_client import Counter, Histogram

TURNS = Counter("luna_turns_total", "Turns the Writer finished, by outcome (completed or failed).", ["outcome"])

AGENT_CALLS = Counter("luna_agent_calls_total", "Calls of the writers' room, by agent, connection and status.",
                      ["agent", "provider", "status"])
AGENT_LATENCY = Histogram("luna_agent_call_seconds", "Latency of one agent call, by agent and connection.",
                          ["agent", "provider"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80))
AGENT_COST = Counter("luna_agent_cost_usd_total", "Cost of agent calls in USD at the connection's prices.",
                     ["agent", "provider"])
