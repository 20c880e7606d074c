"""A Tasker for Go remote worker in one file, standard library only (Python 3.8+).

It claims steps of remote queues from a Tasker server (long polling), runs a
handler for each in a thread pool, heartbeats their leases while they run and
reports results or failures. See docs/remote-workers.md.

    from tasker_worker import Worker, PermanentError, RetryAfterError

    def charge(step):
        order = step.context
        if order["amount"] <= 0:
            raise PermanentError("amount must be positive")
        return {"charge_id": "ch_%d" % order["order_id"]}

    Worker("http://127.0.0.1:8080", token, ["billing"], charge).run()

A handler returns a JSON-serialisable result. An exception is a retryable
failure; PermanentError stops the retries; RetryAfterError(message, seconds)
asks for the next attempt after a delay. A step whose lease is lost (the task
was cancelled, or the worker could not heartbeat in time) has step.lost set;
its result is dropped by the server. A handler still running after the step's
timeout (step.timeout_ms) is given up: a timeout is reported, step.lost is set
and its eventual result dropped; check step.lost in long loops. A result the
server refuses (not JSON, larger than its body limit) fails the attempt
permanently with the server's reason. step.publish(name, payload) publishes a
custom event and step.annotate(annotation_type, annotation) records an
annotation of the task; both are sent with the result.

stop() (or SIGINT/SIGTERM during run()) ends the claim waiting in its long
poll at once and claims nothing more: steps a claim returns after it are
released unstarted; running steps may finish for shutdown_grace_seconds,
then they are released.
"""

import http.client
import json
import logging
import os
import random
import signal
import socket
import threading
import time
import traceback
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

__all__ = ["Worker", "Step", "PermanentError", "RetryAfterError", "LeaseLostError", "AuthError", "TaskerError"]

log = logging.getLogger("tasker_worker")


class PermanentError(Exception):
    """A failure that retrying will not fix: the step is blocked at once."""


class RetryAfterError(Exception):
    """A retryable failure whose next attempt must wait `seconds`."""

    def __init__(self, message, seconds):
        super().__init__(message)
        self.seconds = float(seconds)


class TaskerError(Exception):
    """An error answer of the server: status, code and message."""

    def __init__(self, status, code, message):
        super().__init__("HTTP %d %s: %s" % (status, code, message))
        self.status, self.code, self.message = status, code, message


class LeaseLostError(TaskerError):
    """The server refused a result: the worker no longer holds the attempt."""


class AuthError(TaskerError):
    """The server refused the credential: 401 (no valid token) or 403 (the
    token lacks tasker.worker:work, or the server takes no remote workers).
    Retrying cannot help: run() stops and raises it."""


class Step:
    """A claimed step: its input document as attributes."""

    def __init__(self, doc):
        self.doc = doc
        self.task_id = doc["task_id"]
        self.step_id = doc["step_id"]
        self.step_name = doc["step_name"]
        self.namespace = doc["namespace"]
        self.task_name = doc["task_name"]
        self.version = doc["version"]
        self.queue = doc["queue"]
        self.attempt = doc["attempt"]
        self.retry_limit = doc["retry_limit"]
        self.timeout_ms = doc["timeout_ms"]
        self.idempotency_key = doc["idempotency_key"]
        self.context = doc.get("context") or {}
        self.dependencies = doc.get("dependencies") or {}
        self.config = doc.get("handler_config") or {}
        self.inputs = doc.get("inputs")
        # The task's W3C trace context (None when it has none): the worker
        # sends it on its requests about the step; a handler passes it on to
        # what it calls (trace_headers()) or starts its spans under it.
        self.traceparent = doc.get("traceparent")
        self.tracestate = doc.get("tracestate")
        self.started = time.monotonic()
        # Set when the lease is lost: stop working, the result will be refused.
        self.lost = threading.Event()
        self._events = []
        self._annotations = []
        self._events_lock = threading.Lock()

    def publish(self, name, payload=None):
        """Publish a custom event declared for this step (custom_events of its
        template step). It is sent with the result and delivered once the
        result is recorded; the server refuses the result when the event is
        not declared."""
        json.dumps(payload, allow_nan=False)  # must be JSON
        with self._events_lock:
            self._events.append({"name": name, "payload": payload})

    def published(self):
        with self._events_lock:
            return list(self._events)

    def annotate(self, annotation_type, annotation):
        """Record an annotation of the step's task: annotation_type names its
        type (1 to 64 of A-Z a-z 0-9 . _ -) and annotation is a dict (a JSON
        object). It is sent with the result, whatever its outcome, and stored
        when the result is recorded; the server refuses the result when an
        annotation is invalid (the attempt then fails permanently, saying
        why)."""
        if not isinstance(annotation, dict):
            raise TypeError("annotation %r must be a dict (a JSON object), not %s"
                            % (annotation_type, type(annotation).__name__))
        json.dumps(annotation, allow_nan=False)  # must be JSON
        with self._events_lock:
            self._annotations.append({"annotation_type": annotation_type, "annotation": annotation})

    def annotations(self):
        with self._events_lock:
            return list(self._annotations)

    def trace_headers(self):
        """The traceparent and tracestate headers that continue the task's
        trace in a service the handler calls ({} when the task has none)."""
        out = {}
        if self.traceparent:
            out["traceparent"] = self.traceparent
            if self.tracestate:
                out["tracestate"] = self.tracestate
        return out

    def __repr__(self):
        return "Step(%s/%s task=%d step=%d attempt=%d)" % (
            self.task_name, self.step_name, self.task_id, self.step_id, self.attempt)


class Worker:
    """Claims and runs steps of `queues` until stop() (or SIGINT/SIGTERM)."""

    def __init__(self, url, token, queues, handler, worker_id=None, concurrency=4,
                 lease_seconds=30.0, poll_wait_seconds=20.0, shutdown_grace_seconds=30.0):
        url = url.rstrip("/")
        if url.endswith("/tasker"):
            url = url[: -len("/tasker")]
        if not url.startswith(("http://", "https://")):
            raise ValueError("url %r must start with http:// or https://" % url)
        token = token or os.environ.get("TASKER_TOKEN", "")
        if not token:
            raise ValueError("token is required (or $TASKER_TOKEN): the server's --worker-token, "
                             "or an API token or JWT with tasker.worker:work")
        if not queues:
            raise ValueError("queues is required: name the queues to serve")
        self.url = url
        self.token = token
        self.queues = list(queues)
        self.handler = handler
        self.worker_id = worker_id or "%s-%d-%08x" % (socket.gethostname() or "worker", os.getpid(),
                                                       random.getrandbits(32))
        self.concurrency = max(1, min(int(concurrency), 100))  # the server claims at most 100 at once
        self.lease_seconds = float(lease_seconds)
        self.poll_wait_seconds = min(float(poll_wait_seconds), 30.0)
        self.shutdown_grace_seconds = float(shutdown_grace_seconds)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # step_id -> Step being run. An entry is removed only by its own
        # attempt (compared by identity): a newer attempt of the same step,
        # claimed while an old one still runs, keeps its entry.
        self._running = {}
        self._slots = threading.BoundedSemaphore(self.concurrency)
        # The connection of the claim in flight, which stop() shuts down so
        # that the long poll ends at once. Set and read without a lock: stop()
        # may run in a signal handler that interrupted a holder of a lock.
        self._claim_conn = None
        self._claim_opener = urllib.request.build_opener(_claim_handler(self, False), _claim_handler(self, True))

    # --- public -----------------------------------------------------------

    def run(self):
        """Run until stop() is called or the process gets SIGINT/SIGTERM.
        Raises AuthError when the server refuses the credential."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self.stop())
        log.info("worker %s serving %s on %s", self.worker_id, self.queues, self.url)
        beat = threading.Thread(target=self._heartbeats, name="tasker-heartbeat", daemon=True)
        beat.start()
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="tasker-step")
        failures = 0
        refused = None
        try:
            while not self._stop.is_set():
                free = self._take_slots()
                if free == 0:
                    continue
                try:
                    steps = self.claim(free)
                    failures = 0
                except AuthError as e:  # retrying with the same credential cannot succeed
                    for _ in range(free):
                        self._slots.release()
                    log.error("the server refused the credential (%s); stopping", e)
                    refused = e
                    break
                except Exception as e:  # network or server trouble: back off
                    for _ in range(free):
                        self._slots.release()
                    if self._stop.is_set():  # stop() aborted the long poll: nothing was claimed
                        break
                    failures += 1
                    delay = min(0.1 * 2 ** min(failures, 6), 10.0)
                    log.warning("claim failed (%s); retrying in %.1fs", e, delay)
                    self._stop.wait(delay)
                    continue
                if self._stop.is_set():
                    # Claimed as the worker was told to stop: give the steps
                    # back unstarted (pending again, the attempt not counted).
                    for _ in range(free):
                        self._slots.release()
                    for step in steps:
                        self._release_on_shutdown(step)
                    break
                for _ in range(free - len(steps)):
                    self._slots.release()
                for step in steps:
                    with self._lock:
                        self._running[step.step_id] = step
                    pool.submit(self._run_step, step)
        finally:
            deadline = time.monotonic() + self.shutdown_grace_seconds
            while time.monotonic() < deadline:
                with self._lock:
                    if not self._running:
                        break
                time.sleep(0.05)
            # Steps still running after the grace are given back (pending
            # again, the attempt not counted); their late results are dropped.
            with self._lock:
                left = list(self._running.values())
                self._running.clear()
            for step in left:
                step.lost.set()
                self._release_on_shutdown(step)
            pool.shutdown(wait=False)
            self._stop.set()
            log.info("worker %s stopped", self.worker_id)
        if refused is not None:
            raise refused

    def stop(self):
        """Stop claiming at once: a claim waiting for steps (the long poll) is
        aborted, and steps a claim returns after stop() are released
        unstarted. Running steps may finish for shutdown_grace_seconds, then
        they are released (pending again, the attempt not counted). Safe to
        call from a signal handler or another thread."""
        self._stop.set()
        conn = self._claim_conn
        if conn is not None:
            _abort(conn)

    def claim(self, limit=1):
        """One claim request: returns the claimed Steps (maybe none). stop()
        aborts it (it then raises)."""
        try:
            out = self._post("/tasker/workers/claim", {
                "worker_id": self.worker_id, "queues": self.queues, "limit": limit,
                "lease_seconds": self.lease_seconds, "wait_seconds": self.poll_wait_seconds,
            }, timeout=self.poll_wait_seconds + 30, opener=self._claim_opener)
        finally:
            self._claim_conn = None
        return [Step(d) for d in out["steps"]]

    def heartbeat(self, step_ids):
        """Extend the leases of step_ids; returns the ids that were lost."""
        out = self._post("/tasker/workers/heartbeat", {
            "worker_id": self.worker_id, "step_ids": list(step_ids), "lease_seconds": self.lease_seconds},
            timeout=max(self.lease_seconds / 3, 1.0))
        return out["lost_step_ids"]

    def complete(self, step, results):
        """Report a successful attempt (with the events the step published
        and the annotations it recorded)."""
        body = {"worker_id": self.worker_id, "attempt": step.attempt, "results": results}
        if step.published():
            body["events"] = step.published()
        if step.annotations():
            body["annotations"] = step.annotations()
        return self._post("/tasker/workers/steps/%d/result" % step.step_id, body,
                          timeout=max(self.lease_seconds / 3, 1.0), headers=step.trace_headers())

    def release(self, step):
        """Give a claimed attempt back without a result: the step is pending
        again and the attempt does not count."""
        return self._post("/tasker/workers/steps/%d/release" % step.step_id,
                          {"worker_id": self.worker_id, "attempt": step.attempt},
                          timeout=max(self.lease_seconds / 3, 1.0), headers=step.trace_headers())

    def fail(self, step, message, kind="retryable", retry_after_seconds=None, error_class=None, detail=None,
             events=True):
        """Report a failed attempt (with the events the step published and the
        annotations it recorded, unless events is False)."""
        err = {"message": message or "error", "kind": kind}
        if retry_after_seconds is not None:
            err["retry_after_seconds"] = retry_after_seconds
        if error_class:
            err["class"] = error_class
        if detail:
            err["detail"] = detail
        body = {"worker_id": self.worker_id, "attempt": step.attempt, "error": err}
        if events and step.published():
            body["events"] = step.published()
        if events and step.annotations():
            body["annotations"] = step.annotations()
        return self._post("/tasker/workers/steps/%d/result" % step.step_id, body,
                          timeout=max(self.lease_seconds / 3, 1.0), headers=step.trace_headers())

    # --- internals --------------------------------------------------------

    def _release_on_shutdown(self, step):
        try:
            self.release(step)
            log.info("%r released on shutdown", step)
        except Exception as e:
            log.warning("%r: could not release it (%s); it will be rescued when its lease expires", step, e)

    def _take_slots(self):
        # Wait for one free slot (checking for stop), then take what is free.
        while not self._slots.acquire(timeout=0.2):
            if self._stop.is_set():
                return 0
        free = 1
        while free < self.concurrency and self._slots.acquire(blocking=False):
            free += 1
        return free

    def _run_step(self, step):
        try:
            self._run_step_inner(step)
        except Exception:  # never lose a pool thread silently
            log.exception("%r: unexpected error in the worker", step)
        finally:
            self._slots.release()

    def _run_step_inner(self, step):
        report = self._execute(step)
        with self._lock:
            held = self._running.get(step.step_id) is step
            if held:
                del self._running[step.step_id]
        if not held or step.lost.is_set():
            log.info("%r lost its lease or timed out; result dropped", step)
            return
        refusal = self._report(step, report)
        if refusal is not None:
            # The server refused the result itself (too large, not
            # storable, an undeclared event, an invalid annotation): fail
            # the attempt permanently, saying why, without its events and
            # annotations.
            self._report(step, lambda: self.fail(
                step, "the server refused the step's result: %s" % refusal, kind="permanent", events=False))

    def _execute(self, step):
        # Python unbinds an except clause's name when the clause ends: the
        # report is built from values taken inside it.
        try:
            result = self.handler(step)
        except PermanentError as e:
            msg, cls = str(e), type(e).__name__
            return lambda: self.fail(step, msg, kind="permanent", error_class=cls)
        except RetryAfterError as e:
            msg, cls, secs = str(e), type(e).__name__, e.seconds
            return lambda: self.fail(step, msg, retry_after_seconds=secs, error_class=cls)
        except Exception as e:  # any other exception is retryable, with its traceback
            msg, cls, detail = str(e) or type(e).__name__, type(e).__name__, traceback.format_exc()
            return lambda: self.fail(step, msg, error_class=cls, detail=detail)
        try:
            json.dumps(result, allow_nan=False)  # must be JSON (no NaN or Infinity)
        except (TypeError, ValueError) as e:
            msg, cls = "the step's result is not JSON: %s" % e, type(e).__name__
            return lambda: self.fail(step, msg, kind="permanent", error_class=cls)
        return lambda: self.complete(step, result)

    def _report(self, step, send):
        """Send a report, retrying network and server errors until the lease
        would expire. Returns the server's message when it refused the report
        itself (a 4xx other than lease_lost), else None."""
        deadline = time.monotonic() + self.lease_seconds
        attempt = 0
        while True:
            attempt += 1
            try:
                send()
                return None
            except LeaseLostError as e:
                log.warning("%r: result refused: %s", step, e.message)
                return None
            except AuthError as e:  # the same credential cannot succeed: let the lease expire
                log.error("%r: result refused: the server refused the credential: %s", step, e.message)
                return None
            except TaskerError as e:
                if e.status < 500:
                    log.error("%r: result refused: %s", step, e)
                    return "HTTP %d: %s" % (e.status, e.message)
                err = e
            except (urllib.error.URLError, OSError) as e:
                err = e
            if time.monotonic() > deadline:
                log.error("%r: giving up reporting (%s); the step will be rescued when its lease expires", step, err)
                return None
            time.sleep(min(0.2 * attempt, 2.0))

    def _heartbeats(self):
        while not self._stop.wait(self.lease_seconds / 3):
            self._beat_once()
        # Keep steps that finish during the shutdown grace alive.
        while True:
            with self._lock:
                if not self._running:
                    return
            self._beat_once()
            time.sleep(self.lease_seconds / 3)

    def _beat_once(self):
        now = time.monotonic()
        timed_out = []
        with self._lock:
            # A step past its timeout is given up: reported as a timeout, its
            # thread's eventual result dropped (Python cannot stop a thread).
            for sid, s in list(self._running.items()):
                if now - s.started >= s.timeout_ms / 1000.0:
                    del self._running[sid]
                    s.lost.set()
                    timed_out.append(s)
            ids = list(self._running)
        for s in timed_out:
            log.warning("%r: timed out after %d ms; reporting a timeout", s, s.timeout_ms)
            self._report(s, lambda s=s: self.fail(s, "step timed out after %d ms" % s.timeout_ms, kind="timeout"))
        if not ids:
            return
        try:
            lost = self.heartbeat(ids)
        except Exception as e:
            log.warning("heartbeat failed: %s", e)
            return
        with self._lock:
            for sid in lost:
                step = self._running.pop(sid, None)
                if step is not None:
                    step.lost.set()

    def _post(self, path, body, timeout=30, opener=None, headers=None):
        data = json.dumps(body, allow_nan=False).encode("utf-8")
        hdrs = {"Content-Type": "application/json", "Authorization": "Bearer " + self.token}
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method="POST", headers=hdrs)
        try:
            with (opener.open if opener else urllib.request.urlopen)(req, timeout=timeout) as res:
                return json.loads(res.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            raw = e.read().decode("utf-8", "replace")
            try:
                err = json.loads(raw)["error"]
                code, message = err.get("code", ""), err.get("message", raw)
            except (ValueError, KeyError, TypeError):
                code, message = "", raw.strip()
            if code == "lease_lost":
                cls = LeaseLostError
            elif e.code in (401, 403):
                cls = AuthError
            else:
                cls = TaskerError
            raise cls(e.code, code, message) from None


def _abort(conn):
    """Shut down conn's socket, which ends a read blocked on it (in any
    thread, or in the thread a signal handler interrupted)."""
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _claim_handler(worker, https):
    """A urllib handler whose connections register as worker._claim_conn, so
    that worker.stop() can abort the claim in flight."""
    conn_class = http.client.HTTPSConnection if https else http.client.HTTPConnection

    class Conn(conn_class):
        def connect(self):
            super().connect()
            worker._claim_conn = self
            if worker._stop.is_set():  # stop() came before the socket existed
                _abort(self)

    if not https:
        class Handler(urllib.request.HTTPHandler):
            def http_open(self, req):
                return self.do_open(Conn, req)
        return Handler()

    class SecureHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            kw = {"context": self._context}
            if getattr(self, "_check_hostname", None) is not None:  # Python before 3.12
                kw["check_hostname"] = self._check_hostname
            return self.do_open(Conn, req, **kw)
    return SecureHandler()
