"""Example remote worker for the "billing" queue (examples/remote_billing.yaml).

    export TASKER_TOKEN=$(tasker token create billing-worker --permission tasker.worker:work)
    TASKER_URL=http://127.0.0.1:8080 python3 clients/python/example_worker.py

Environment: TASKER_URL (default http://127.0.0.1:8080), TASKER_TOKEN (an API
token or JWT with tasker.worker:work) or TASKER_WORKER_TOKEN (the server's
legacy --worker-token): one is required; TASKER_QUEUE (default billing), TASKER_WORKER_ID (default
host-pid-random), TASKER_LEASE_SECONDS (default 30), TASKER_CONCURRENCY
(default 4).

To watch a rescue, create a task whose context has "hang_on_attempt": 1:
the first attempt hangs; kill this worker (kill -9) and start another one,
which runs attempt 2 once the lease of the first has expired.
"""

import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tasker_worker import PermanentError, Worker  # noqa: E402


def charge(step):
    order = step.context
    amount = order.get("amount")
    if not isinstance(amount, (int, float)) or amount <= 0:
        raise PermanentError("context.amount must be a positive number")
    if order.get("hang_on_attempt") == step.attempt:
        logging.info("%r: hanging as asked by hang_on_attempt", step)
        while not step.lost.is_set():
            time.sleep(0.1)
        return None
    logging.info("%r: charging order %s for %s (key %s)", step, order.get("order_id"), amount, step.idempotency_key)
    return {"charge_id": "ch_%d_%s" % (step.task_id, order.get("order_id")), "amount": amount,
            "provider": step.config.get("provider"), "attempt": step.attempt}


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    token = os.environ.get("TASKER_TOKEN") or os.environ.get("TASKER_WORKER_TOKEN")
    if not token:
        sys.exit("TASKER_TOKEN is required: an API token with tasker.worker:work "
                 "(tasker token create NAME --permission tasker.worker:work), "
                 "or TASKER_WORKER_TOKEN: the server's --worker-token")
    Worker(
        os.environ.get("TASKER_URL", "http://127.0.0.1:8080"), token,
        [os.environ.get("TASKER_QUEUE", "billing")], charge,
        worker_id=os.environ.get("TASKER_WORKER_ID"),
        lease_seconds=float(os.environ.get("TASKER_LEASE_SECONDS", "30")),
        concurrency=int(os.environ.get("TASKER_CONCURRENCY", "4")),
    ).run()


if __name__ == "__main__":
    main()
