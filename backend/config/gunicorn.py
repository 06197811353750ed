"""gunicorn settings: `gunicorn -c backend/config/gunicorn.py backend.config.wsgi`.

Every value can be set from the environment. App servers keep no state of
their own (flows are in the database or Redis, sessions in the database or
Redis), so any number of them can run behind a load balancer.

A value gunicorn cannot use (no workers, a negative timeout) is refused here,
by name, before a worker starts.
"""

import multiprocessing
import os
import sys
from pathlib import Path

# gunicorn reads this file before it puts the working directory on the
# import path: the project is found from here, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backend.config.env import env_int

# PORT only where no bind is given: it is read, and refused, where it is used.
bind = os.environ.get("GUNICORN_BIND") or (
    f"0.0.0.0:{env_int('PORT', 8000, minimum=1, maximum=65535)}"
)
workers = env_int("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1, minimum=1)
threads = env_int("GUNICORN_THREADS", 1, minimum=1)
timeout = env_int("GUNICORN_TIMEOUT", 30, minimum=0)
# Behind a load balancer: trust its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
max_requests = env_int("GUNICORN_MAX_REQUESTS", 10000, minimum=0)
max_requests_jitter = max_requests // 10
