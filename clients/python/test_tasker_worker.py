"""Unit tests of tasker_worker against a scripted stub server (stdlib only).

    python3 -m unittest -v clients/python/test_tasker_worker.py

(`go test ./clients/python` runs them too.) The end-to-end test against a
real `tasker serve` is cmd/tasker/e2e_python_test.go.
"""

import json
import os
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tasker_worker  # noqa: E402
from tasker_worker import AuthError, PermanentError, RetryAfterError, Worker  # noqa: E402

TOKEN = "unit-test-token-0123456789"


def step_doc(step_id=1, attempt=1, timeout_ms=60000, context=None):
    return {
        "task_id": 10, "step_id": step_id, "step_name": "charge", "namespace": "default",
        "task_name": "t", "version": "1.0.0", "queue": "q", "attempt": attempt, "retry_limit": 3,
        "lease_expires_at": "2026-01-01T00:00:00Z", "timeout_ms": timeout_ms,
        "idempotency_key": "task-10/charge", "context": context or {"n": 1},
        "dependencies": {}, "handler_config": {"queue": "q"},
    }


class Stub:
    """A scripted server: claims hand out the queued steps; results and
    heartbeats are recorded; result_status forces an answer status."""

    def __init__(self):
        self.lock = threading.Lock()
        self.to_claim = []
        self.results = []      # (step_id, body)
        self.heartbeats = []   # step_ids lists
        self.lost = set()      # step ids heartbeats report lost
        self.releases = []     # (step_id, body)
        self.result_headers = {}  # step_id -> headers of its last result request
        self.result_status = {}  # step_id -> list of statuses to answer first
        self.claim_status = None  # a status every request is answered with (auth tests)
        self.claim_started = threading.Event()  # set when a claim arrives
        self.hold_claims = None   # an Event: claims wait for it (a long poll), then answer no steps
        stub = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.headers.get("Authorization") != "Bearer " + TOKEN:
                    return self.answer(401, {"error": {"code": "unauthorized", "message": "no"}})
                if stub.claim_status:
                    return self.answer(stub.claim_status, {"error": {"code": "forbidden", "message": "lacks tasker.worker:work"}})
                if self.path == "/tasker/workers/claim":
                    stub.claim_started.set()
                    if stub.hold_claims is not None:
                        stub.hold_claims.wait(30)
                        return self.answer(200, {"steps": []})
                    with stub.lock:
                        steps, stub.to_claim = stub.to_claim[: body["limit"]], stub.to_claim[body["limit"]:]
                    if not steps:
                        time.sleep(min(body.get("wait_seconds", 0), 0.05))
                    return self.answer(200, {"steps": steps})
                if self.path == "/tasker/workers/heartbeat":
                    with stub.lock:
                        stub.heartbeats.append(list(body["step_ids"]))
                        lost = [i for i in body["step_ids"] if i in stub.lost]
                    return self.answer(200, {"step_ids": [i for i in body["step_ids"] if i not in lost], "lost_step_ids": lost})
                sid = int(self.path.split("/")[4])
                if self.path.endswith("/release"):
                    with stub.lock:
                        stub.releases.append((sid, body))
                    return self.answer(200, {"step": {"workflow_step_id": sid}})
                with stub.lock:
                    forced = stub.result_status.get(sid) or []
                    status = forced.pop(0) if forced else 200
                    if status == 200:
                        stub.results.append((sid, body))
                        stub.result_headers[sid] = dict(self.headers)
                if status == 200:
                    return self.answer(200, {"step": {"workflow_step_id": sid}})
                code = {409: "lease_lost", 413: "payload_too_large"}.get(status, "internal")
                return self.answer(status, {"error": {"code": code, "message": "forced %d" % status}})

            def answer(self, status, obj):
                raw = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_results(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.results) >= n:
                    return list(self.results)
            time.sleep(0.02)
        raise AssertionError("expected %d results, got %r" % (n, self.results))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class WorkerTest(unittest.TestCase):
    def setUp(self):
        self.stub = Stub()
        self.addCleanup(self.stub.close)

    def run_worker(self, handler, **kw):
        kw.setdefault("poll_wait_seconds", 0.05)
        kw.setdefault("shutdown_grace_seconds", 5)
        w = Worker(self.stub.url + "/tasker", TOKEN, ["q"], handler, worker_id="py-test", **kw)
        t = threading.Thread(target=w.run, daemon=True)
        t.start()

        def stop():
            w.stop()
            t.join(10)
            self.assertFalse(t.is_alive(), "run() returned after stop()")
        self.addCleanup(stop)
        return w

    def test_success_and_error_kinds(self):
        self.stub.to_claim = [step_doc(1), step_doc(2), step_doc(3), step_doc(4)]

        def handler(step):
            if step.step_id == 1:
                return {"charged": step.context["n"]}
            if step.step_id == 2:
                raise PermanentError("card declined")
            if step.step_id == 3:
                raise RetryAfterError("busy", 2.5)
            raise KeyError("boom")
        self.run_worker(handler)
        got = dict(self.stub.wait_results(4))
        self.assertEqual(got[1], {"worker_id": "py-test", "attempt": 1, "results": {"charged": 1}})
        self.assertEqual(got[2]["error"], {"message": "card declined", "kind": "permanent", "class": "PermanentError"})
        self.assertEqual(got[3]["error"]["retry_after_seconds"], 2.5)
        self.assertEqual(got[3]["error"]["kind"], "retryable")
        self.assertEqual(got[4]["error"]["class"], "KeyError")
        self.assertIn("Traceback", got[4]["error"]["detail"])

    def test_trace_context_is_continued(self):
        traced = step_doc(1)
        traced["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        traced["tracestate"] = "vendor=abc"
        self.stub.to_claim = [traced, step_doc(2)]
        seen = {}

        def handler(step):
            seen[step.step_id] = (step.traceparent, step.tracestate, step.trace_headers())
            return {}
        self.run_worker(handler)
        self.stub.wait_results(2)
        self.assertEqual(seen[1], (traced["traceparent"], "vendor=abc",
                                   {"traceparent": traced["traceparent"], "tracestate": "vendor=abc"}))
        self.assertEqual(seen[2], (None, None, {}))
        hdrs = {k.lower(): v for k, v in self.stub.result_headers[1].items()}
        self.assertEqual(hdrs.get("traceparent"), traced["traceparent"])
        self.assertEqual(hdrs.get("tracestate"), "vendor=abc")
        self.assertNotIn("traceparent", {k.lower() for k in self.stub.result_headers[2]})

    def test_published_events_go_with_the_result(self):
        self.stub.to_claim = [step_doc(1), step_doc(2)]

        def handler(step):
            step.publish("payment.charged", {"amount": 42})
            if step.step_id == 2:
                raise RuntimeError("after publishing")
            return {"ok": True}
        self.run_worker(handler)
        got = dict(self.stub.wait_results(2))
        self.assertEqual(got[1]["events"], [{"name": "payment.charged", "payload": {"amount": 42}}])
        self.assertEqual(got[2]["events"], [{"name": "payment.charged", "payload": {"amount": 42}}])
        self.assertEqual(got[2]["error"]["message"], "after publishing")

    def test_annotations_go_with_the_result(self):
        self.stub.to_claim = [step_doc(1), step_doc(2), step_doc(3)]
        bad = {}

        def handler(step):
            for wrong in ([1], "text", None):
                try:
                    step.annotate("t", wrong)
                except TypeError as e:
                    bad[repr(wrong)] = str(e)
            try:
                step.annotate("t", {"n": float("nan")})
            except ValueError as e:
                bad["nan"] = str(e)
            if step.step_id == 3:
                return {"ok": True}  # none recorded: no annotations member
            step.annotate("billing_reference", {"invoice": "INV-%d" % step.step_id})
            if step.step_id == 2:
                raise RuntimeError("after annotating")
            return {"ok": True}
        self.run_worker(handler)
        got = dict(self.stub.wait_results(3))
        self.assertEqual(got[1]["annotations"], [{"annotation_type": "billing_reference", "annotation": {"invoice": "INV-1"}}])
        self.assertEqual(got[1]["results"], {"ok": True})
        self.assertEqual(got[2]["annotations"], [{"annotation_type": "billing_reference", "annotation": {"invoice": "INV-2"}}])
        self.assertEqual(got[2]["error"]["message"], "after annotating")
        self.assertNotIn("annotations", got[3])
        self.assertEqual(sorted(bad), ["'text'", "None", "[1]", "nan"])
        self.assertIn("must be a dict", bad["[1]"])

    def test_refused_annotations_fail_permanently_without_them(self):
        self.stub.to_claim = [step_doc(1)]
        self.stub.result_status[1] = [400]

        def handler(step):
            step.annotate("bad type", {"a": 1})
            return {"ok": True}
        self.run_worker(handler)
        (sid, body), = self.stub.wait_results(1)
        self.assertEqual(body["error"]["kind"], "permanent")
        self.assertIn("the server refused the step's result: HTTP 400", body["error"]["message"])
        self.assertNotIn("annotations", body)

    def test_result_not_json_fails_permanently(self):
        self.stub.to_claim = [step_doc(1), step_doc(2)]
        self.run_worker(lambda step: float("nan") if step.step_id == 1 else {"s": {1, 2}})
        got = dict(self.stub.wait_results(2))
        for sid in (1, 2):
            self.assertEqual(got[sid]["error"]["kind"], "permanent")
            self.assertIn("the step's result is not JSON", got[sid]["error"]["message"])

    def test_refused_result_fails_permanently(self):
        self.stub.to_claim = [step_doc(1)]
        self.stub.result_status[1] = [413]
        self.run_worker(lambda step: {"big": "x"})
        (sid, body), = self.stub.wait_results(1)
        self.assertEqual(body["error"]["kind"], "permanent")
        self.assertEqual(body["error"]["message"], "the server refused the step's result: HTTP 413: forced 413")

    def test_server_errors_are_retried(self):
        self.stub.to_claim = [step_doc(1)]
        self.stub.result_status[1] = [500, 503]
        self.run_worker(lambda step: {"ok": True})
        (sid, body), = self.stub.wait_results(1)
        self.assertEqual(body["results"], {"ok": True})

    def test_timeout_is_reported_and_late_result_dropped(self):
        self.stub.to_claim = [step_doc(1, timeout_ms=300)]
        release = threading.Event()
        self.addCleanup(release.set)
        self.run_worker(lambda step: release.wait(10) and {"late": True}, lease_seconds=0.6)
        (sid, body), = self.stub.wait_results(1)
        self.assertEqual(body["error"]["kind"], "timeout")
        self.assertEqual(body["error"]["message"], "step timed out after 300 ms")
        release.set()
        time.sleep(0.3)
        self.assertEqual(len(self.stub.results), 1, "the handler's late result is not reported")

    def test_lost_lease_drops_result_and_newer_attempt_is_kept(self):
        # Attempt 1 of step 7 is lost (heartbeat answer); the worker then
        # claims attempt 2 of the same step while attempt 1 still runs.
        self.stub.to_claim = [step_doc(7, attempt=1)]
        self.stub.lost = {7}
        first_running, release_first = threading.Event(), threading.Event()
        self.addCleanup(release_first.set)

        def handler(step):
            if step.attempt == 1:
                first_running.set()
                release_first.wait(10)
                return {"attempt": 1}
            return {"attempt": 2}
        w = self.run_worker(handler, lease_seconds=0.3, concurrency=2)
        self.assertTrue(first_running.wait(5))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with w._lock:
                if 7 not in w._running:
                    break
            time.sleep(0.02)
        with self.stub.lock:
            self.stub.lost = set()
            self.stub.to_claim = [step_doc(7, attempt=2)]
        (sid, body), = self.stub.wait_results(1)
        self.assertEqual(body["attempt"], 2)
        release_first.set()
        time.sleep(0.3)
        self.assertEqual([b["attempt"] for _, b in self.stub.results], [2], "attempt 1's result is dropped")

    def test_refused_credential_stops_run(self):
        for token, status in (("wrong-token", 401), (TOKEN, 403)):
            self.stub.claim_status = 403 if status == 403 else None
            w = Worker(self.stub.url, token, ["q"], lambda step: None, worker_id="py-auth",
                       poll_wait_seconds=0.05, shutdown_grace_seconds=1)
            raised = []

            def run():
                try:
                    w.run()
                except AuthError as e:
                    raised.append(e)
            t = threading.Thread(target=run, daemon=True)
            t.start()
            t.join(10)
            if t.is_alive():
                w.stop()
                self.fail("run() kept retrying a refused credential (HTTP %d)" % status)
            self.assertEqual([e.status for e in raised], [status])

    def test_token_from_environment(self):
        os.environ["TASKER_TOKEN"] = TOKEN
        self.addCleanup(os.environ.pop, "TASKER_TOKEN", None)
        w = Worker(self.stub.url, None, ["q"], lambda step: None)
        self.assertEqual(w.token, TOKEN)

    def test_lease_lost_report_is_not_retried(self):
        self.stub.to_claim = [step_doc(1)]
        self.stub.result_status[1] = [409]
        self.run_worker(lambda step: {"ok": True})
        time.sleep(0.5)
        self.assertEqual(self.stub.results, [])
        self.assertEqual(self.stub.result_status[1], [], "the 409 was received")

    def test_shutdown_releases_running_steps(self):
        self.stub.to_claim = [step_doc(3, attempt=2)]
        running, release = threading.Event(), threading.Event()
        self.addCleanup(release.set)

        def handler(step):
            running.set()
            release.wait(10)
            return {"late": True}
        w = Worker(self.stub.url, TOKEN, ["q"], handler, worker_id="py-test", poll_wait_seconds=0.05,
                   shutdown_grace_seconds=0.2)
        t = threading.Thread(target=w.run, daemon=True)
        t.start()
        self.assertTrue(running.wait(5))
        w.stop()
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertEqual(self.stub.releases, [(3, {"worker_id": "py-test", "attempt": 2})])
        release.set()
        time.sleep(0.2)
        self.assertEqual(self.stub.results, [], "the released step's late result is dropped")

    def test_stop_aborts_the_long_poll(self):
        self.stub.hold_claims = threading.Event()
        self.addCleanup(self.stub.hold_claims.set)
        w = Worker(self.stub.url, TOKEN, ["q"], lambda step: {}, worker_id="py-test", poll_wait_seconds=20)
        t = threading.Thread(target=w.run, daemon=True)
        t.start()
        self.assertTrue(self.stub.claim_started.wait(5))
        w.stop()
        # The claim is still held by the server: run() returns only because
        # stop() aborted it.
        t.join(3)
        self.assertFalse(t.is_alive(), "run() still waits for the long poll after stop()")

    def test_steps_claimed_as_the_worker_stops_are_released(self):
        self.stub.to_claim = [step_doc(5, attempt=1)]
        ran = []

        class StoppedWhileClaiming(Worker):
            def claim(self, limit=1):
                steps = super().claim(limit)
                self.stop()  # the signal arrives as the answer does
                return steps
        w = StoppedWhileClaiming(self.stub.url, TOKEN, ["q"], ran.append, worker_id="py-test", poll_wait_seconds=0.05)
        t = threading.Thread(target=w.run, daemon=True)
        t.start()
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertEqual(ran, [], "a step claimed after stop() must not run")
        self.assertEqual(self.stub.releases, [(5, {"worker_id": "py-test", "attempt": 1})])
        self.assertEqual(self.stub.results, [])

    def test_constructor_checks(self):
        with self.assertRaisesRegex(ValueError, "must start with http"):
            Worker("localhost:8080", TOKEN, ["q"], print)
        with self.assertRaisesRegex(ValueError, "token is required"):
            Worker("http://x", "", ["q"], print)
        with self.assertRaisesRegex(ValueError, "queues is required"):
            Worker("http://x", TOKEN, [], print)
        self.assertEqual(Worker("http://x/tasker/", TOKEN, ["q"], print, concurrency=500).concurrency, 100)
        self.assertEqual(Worker("http://x/tasker/", TOKEN, ["q"], print).url, "http://x")


if __name__ == "__main__":
    tasker_worker.log.setLevel("CRITICAL")
    unittest.main()
