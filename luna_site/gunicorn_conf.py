"""gunicorn's settings for bin/serve (``gunicorn -c python:luna_site.gunicorn_conf``), from the environment.

Threads (gthread), not ASGI: the whole app is synchronous (DRF, the ORM, the RLS middleware, the LLM
clients), so under ASGI Django would run every view of a process on one shared thread and buffer the SSE
turn stream whole (a sync iterator). With gthread a streamed turn holds one thread of a worker, not the
worker, and the worker's heartbeat runs in its main loop, so a long stream is not mistaken for a hung worker.
docs/operations.md, "Serving", has the sizing.
"""

import os

wsgi_app = "luna_site.wsgi:application"
bind = [os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")]
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "2"))
# Requests (and streamed turns) served at once per worker; each may hold a pooled database connection.
threads = int(os.environ.get("WEB_THREADS", "8"))
# Seconds a worker's main loop may go silent before it is restarted (not a request's length under gthread).
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Only these addresses' X-Forwarded-* headers are believed (the reverse proxy; loopback by default).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# With JSON logs the app writes each request's line itself (request id, user id, the route, never the path).
accesslog = None if os.environ.get("LOG_FORMAT") == "json" else "-"
errorlog = "-"
