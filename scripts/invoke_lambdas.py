"""The deployed artifacts, exercised: the remediator and auditor binaries behind cargo-lambda's
Lambda Runtime API emulator (`cargo lambda watch`), invoked with `cargo lambda invoke` as a user
would, against the local AWS stand-in. Run by scripts/invoke-lambdas, which builds the binaries
and starts the stand-in when its caller has not; not a pytest module.

Two regions of the stand-in, one `cargo lambda watch` each (a function's region is fixed when
its process starts), both seeded with the lab's classic incident (`lab seed`):

  ap-northeast-2  every file in events/ against its function, a bad payload, the auditor;
  ap-northeast-3  a remediation that AWS refuses half-way (RemediationIncomplete), then the
                  retry that completes it.

No other user of the stand-in works in these two regions (the end-to-end tests and
scripts/bench use others, the proxy's pytest suite us-east-1).

Every check prints one line; the last line is `N passed, M failed`; the exit status is 1 when
any check failed or the emulator could not be driven at all.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EVENTS = REPO / "events"
OFFENDER = "slow-search"  # what `lab seed` makes eat the pool (tests/e2e/src/lib.rs)
MAIN_REGION = "ap-northeast-2"
INCOMPLETE_REGION = "ap-northeast-3"

# Bounds on every wait, so CI never hangs.
WATCH_UP_S = 120  # the emulator answering on its port (cargo metadata first)
FIRST_INVOKE_S = 600  # a function's first invocation runs `cargo run`, which may compile
INVOKE_S = 120
LAB_S = 120

# What the remediator logs when it leaves a request to Lambda's retry (shared/engine run.rs).
DEFERRED = "deferred: too little time left in this invocation"


class Abort(Exception):
    """The emulator or the stand-in could not be driven: no further check makes sense."""


class CheckFailed(Exception):
    pass


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


class Tally:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, fn) -> None:
        """Runs one check: `fn()` returns a short detail, or raises CheckFailed."""
        try:
            detail = fn()
        except Abort:
            raise
        except Exception as e:  # CheckFailed, or a response not shaped as expected
            self.failed += 1
            why = str(e) if isinstance(e, CheckFailed) else f"{type(e).__name__}: {e}"
            print(f"FAIL {name}: {why}", flush=True)
            return
        self.passed += 1
        print(f"ok   {name}" + (f" — {detail}" if detail else ""), flush=True)


# ---------------------------------------------------------------- the emulator


class Watch:
    """`cargo lambda watch` on a free loopback port, the functions in `region` of the stand-in.
    A context manager: the watcher (and the function processes it started) always stop."""

    def __init__(self, region: str, workdir: Path) -> None:
        self.region = region
        self.log_path = workdir / f"watch-{region}.log"
        self.port = free_port()
        self.first: set[str] = set()
        self.proc: subprocess.Popen | None = None
        self.children: list[tuple[int, bytes]] = []
        self.responses = workdir / "responses"
        self.responses.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.outcomes: list[str] = []  # of every report the remediator returned

    def env(self) -> dict[str, str]:
        """The stand-in's environment (inherited: AWS_ENDPOINT_URL, test credentials,
        AWS_EC2_METADATA_DISABLED, CGUARD_STANDIN), in this region, with every other CGUARD_*
        setting removed so a developer's shell cannot change the expected outcomes."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CGUARD_") or k == "CGUARD_STANDIN"}
        env.update(AWS_REGION=self.region, AWS_DEFAULT_REGION=self.region, NO_COLOR="1")
        return env

    def __enter__(self) -> "Watch":
        self.log = open(self.log_path, "w")
        # --ignore-changes: other people may edit the sources meanwhile; a reload mid-run
        # would restart the functions between two checks.
        self.proc = subprocess.Popen(
            ["cargo", "lambda", "watch", "--ignore-changes", "--color", "never",
             "--invoke-address", "127.0.0.1", "--invoke-port", str(self.port)],
            cwd=REPO, env=self.env(), stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        try:
            self.wait_up()
        except BaseException:
            self.stop()
            raise
        print(f"--   cargo lambda watch on 127.0.0.1:{self.port}, functions in {self.region} "
              f"(log: {self.log_path})", flush=True)
        return self

    def wait_up(self) -> None:
        deadline = time.monotonic() + WATCH_UP_S
        while True:
            if self.proc.poll() is not None:
                raise Abort(f"cargo lambda watch exited ({self.proc.returncode}) during start-up; "
                            f"see {self.log_path}:\n{tail(self.log_path)}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise Abort(f"cargo lambda watch not answering on 127.0.0.1:{self.port} within "
                            f"{WATCH_UP_S} s; see {self.log_path}")
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None:
            return
        # The function processes are the watcher's children (cargo run execs the binary).
        self.children = child_pids(self.proc.pid)
        stop_pid(self.proc)
        for pid, cmd in self.children:
            stop_pid_number(pid, cmd)
        self.proc = None
        self.log.close()

    def invoke(self, function: str, payload_file: Path) -> dict:
        """One `cargo lambda invoke`. Returns {"ok": response} or {"error": type, "message": …}
        (the function failed the invocation: the Runtime API's errorType and errorMessage, as
        cargo-lambda prints them); anything else aborts the run."""
        timeout = INVOKE_S if function in self.first else FIRST_INVOKE_S
        self.first.add(function)
        cmd = ["cargo", "lambda", "invoke", "--color", "never", "--output-format", "json",
               "--invoke-address", "127.0.0.1", "--invoke-port", str(self.port),
               "--data-file", str(payload_file), function]
        try:
            p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise Abort(f"cargo lambda invoke {function} {payload_file.name}: no answer within "
                        f"{timeout} s; watcher log:\n{tail(self.log_path)}")
        self.count += 1
        (self.responses / f"{self.region}-{self.count:02d}-{function}-{payload_file.stem}.out").write_text(
            f"exit {p.returncode}\n--- stdout\n{p.stdout}--- stderr\n{p.stderr}")
        if p.returncode == 0:
            try:
                body = json.loads(p.stdout)
            except json.JSONDecodeError as e:
                raise Abort(f"{function} {payload_file.name}: response is not JSON ({e}):\n{p.stdout}")
            if isinstance(body, dict) and isinstance(body.get("reports"), list):
                self.outcomes += [r.get("outcome") for r in body["reports"] if isinstance(r, dict)]
            return {"ok": body}
        # cargo-lambda renders a function error as "Error: <errorType>" then the message.
        m = re.match(r"Error: (\S+)\n(.*?)(?:\n\s*Was this behavior unexpected\?|$)",
                     p.stderr, re.S)
        if m and not m[1].startswith("×"):
            message = " ".join(m[2].replace("×", " ").replace("│", " ").split())
            if m[1] == "RemediationIncomplete" and DEFERRED in self.log_path.read_text(errors="replace"):
                message += (f" [the watcher's log says {DEFERRED!r}: the function judged the "
                            "invocation's deadline too near; cargo-lambda 1.9.2's emulator sends "
                            "Lambda-Runtime-Deadline-Ms: 600000, i.e. 00:10 on 1 January 1970]")
            return {"error": m[1], "message": message}
        raise Abort(f"cargo lambda invoke {function} {payload_file.name} failed "
                    f"(exit {p.returncode}):\n{p.stderr}\nwatcher log:\n{tail(self.log_path)}")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def child_pids(pid: int) -> list[tuple[int, bytes]]:
    """The process's children, each with its command line (to recognise it later)."""
    try:
        pids = [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [(c, cmdline(c)) for c in pids]


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def stop_pid(proc: subprocess.Popen) -> None:
    """SIGTERM (cargo-lambda then shuts its function instances down), 10 s, then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def stop_pid_number(pid: int, cmd: bytes) -> None:
    """A function process the watcher left behind (it only outlives a killed watcher), if
    `pid` is still that process."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not cmd or cmdline(pid) != cmd:
            return
        try:
            os.kill(pid, sig)
        except OSError:
            return
        for _ in range(50):
            time.sleep(0.1)
            try:
                os.kill(pid, 0)
            except OSError:
                return


def tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------- the lab account


class Lab:
    """`lab seed` / `lab show` (tests/e2e/src/bin/lab.rs) in one region."""

    def __init__(self, lab_bin: Path, region: str, workdir: Path) -> None:
        self.bin, self.region, self.workdir = lab_bin, region, workdir
        self.env = dict(os.environ, AWS_REGION=region, AWS_DEFAULT_REGION=region)

    def run(self, *args: str) -> str:
        try:
            p = subprocess.run([str(self.bin), *args], cwd=REPO, env=self.env,
                               capture_output=True, text=True, timeout=LAB_S)
        except subprocess.TimeoutExpired:
            raise Abort(f"lab {' '.join(args)} ({self.region}): no answer within {LAB_S} s")
        if p.returncode != 0:
            raise Abort(f"lab {' '.join(args)} ({self.region}) failed:\n{p.stderr}{p.stdout}")
        return p.stdout

    def seed(self) -> Path:
        """The classic incident, and the SNS alarm notification for it."""
        out = self.workdir / f"seeded-{self.region}.json"
        print(f"--   {self.region}: {self.run('seed', str(out)).strip()}", flush=True)
        return out

    def show(self) -> str:
        return self.run("show")

    def functions(self) -> dict[str, tuple[str, str]]:
        return parse_show(self.show())

    def stage_line(self) -> str:
        lines = [l for l in self.show().splitlines() if l.startswith("REST API ")]
        return lines[0] if lines else ""

    def lambda_client(self):
        import boto3
        return boto3.client("lambda", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                            region_name=self.region)


# ---------------------------------------------------------------- events


def event_at(name: str, at: datetime, region: str) -> dict:
    """A file from events/, moved to `at` and `region` exactly as the lab moves its events
    (tests/e2e/src/lib.rs event_at): only times and the alarm's region change."""
    text = (EVENTS / name).read_text()
    text = (text.replace("2026-11-23T09:40:27.123+0000",
                         at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000")
                .replace("2026-11-23T09:40:27Z", at.strftime("%Y-%m-%dT%H:%M:%SZ"))
                .replace("cloudwatch:us-east-1:", f"cloudwatch:{region}:")
                .replace('"region": "us-east-1"', f'"region": "{region}"'))
    return json.loads(text)


def seeded_at(seeded: Path) -> datetime:
    """The alarm's state-change time in the notification `lab seed` wrote."""
    message = json.loads(json.loads(seeded.read_text())["Records"][0]["Sns"]["Message"])
    return datetime.strptime(message["StateChangeTime"], "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(timezone.utc)


def write(workdir: Path, name: str, payload) -> Path:
    path = workdir / "events" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))
    return path


# ---------------------------------------------------------------- what responses must say


def reports(r: dict, n: int = 1) -> list[dict]:
    expect("ok" in r, f"the invocation failed: {r.get('error')}: {r.get('message')}")
    body = r["ok"]
    expect(isinstance(body, dict) and isinstance(body.get("reports"), list),
           f"no reports in the response: {json.dumps(body)[:300]}")
    expect(len(body["reports"]) == n, f"{len(body['reports'])} reports, expected {n}")
    for rep in body["reports"]:
        for key in ("incident", "outcome", "dry_run", "actions", "skipped", "notes"):
            expect(key in rep, f"report without {key!r}")
    return body["reports"]


def status(action: dict) -> str:
    s = action["status"]
    return s if isinstance(s, str) else next(iter(s))


def skip_reasons(rep: dict, function: str) -> list[str]:
    return [s["reason"] for s in rep["skipped"] if s["function"] == function]


def redelivered(rep: dict, incident: str) -> None:
    """The guard recognised the incident's earlier delivery (its record on the offender)."""
    expect(any(f"incident {incident} was delivered before" in n for n in rep["notes"]),
           f"no note that incident {incident} was delivered before: {rep['notes']}")


def outcome(rep: dict, want: str) -> None:
    expect(rep["outcome"] == want,
           f"outcome {rep['outcome']}, expected {want}; notes: {rep['notes']}")


def nothing_applied(rep: dict) -> None:
    applied = [a["tier"] for a in rep["actions"] if status(a) == "applied"]
    expect(not applied, f"applied again: {applied}")
    expect(not any(status(a) == "failed" for a in rep["actions"]), f"failed: {rep['actions']}")


def failure(r: dict, error_type: str, *mentions: str) -> str:
    expect("error" in r, f"the invocation succeeded, expected {error_type}: "
                         f"{json.dumps(r.get('ok'))[:300]}")
    expect(r["error"] == error_type, f"error type {r['error']}, expected {error_type}: {r['message']}")
    for m in mentions:
        expect(m in r["message"], f"the message does not mention {m!r}: {r['message']}")
    return f"{r['error']}: {r['message']}"


def unchanged(lab: Lab, before: str, what: str) -> None:
    after = lab.show()
    expect(after == before, f"{what} changed the account:\n--- before\n{before}--- after\n{after}")


# ---------------------------------------------------------------- the two regions


def main_region(t: Tally, lab_bin: Path, workdir: Path) -> None:
    lab = Lab(lab_bin, MAIN_REGION, workdir)
    seeded = lab.seed()
    at = seeded_at(seeded)
    start = lab.show()

    # Every file in events/, moved to the seeded incident's time and region; the manual
    # payload and the schedule event carry no alarm time and go as they are.
    alarm_files = ["alarm-action.json", "eventbridge-state-change.json",
                   "manual-alarm-dry-run.json", "sns-account-concurrency.json",
                   "sns-metric-math.json", "sns-ok.json", "sns-victim-throttles.json"]
    as_is = ["manual-dry-run.json", "auditor-schedule.json"]
    on_disk = sorted(p.name for p in EVENTS.glob("*.json"))
    t.check("events/: every file has a check", lambda: (
        expect(sorted(alarm_files + as_is) == on_disk,
               f"events/ holds {on_disk}; this script checks {sorted(alarm_files + as_is)}: "
               "give the new file its expected outcome in scripts/invoke_lambdas.py")
        or f"{len(on_disk)} files"))
    ev = {name: write(workdir, f"{MAIN_REGION}-{name}", event_at(name, at, MAIN_REGION))
          for name in alarm_files}
    ev.update({name: EVENTS / name for name in as_is})
    t.check("lab's seeded notification = events/sns-account-concurrency.json moved to it", lambda: (
        expect(json.loads(seeded.read_text()) == json.loads(ev["sns-account-concurrency.json"].read_text()),
               "the lab and this script move events differently") or at.isoformat()))

    with Watch(MAIN_REGION, workdir) as w:
        # ---- failures first, on the untouched account
        bad = write(workdir, "bad-input.json", {"dryRun": "yes", "functionName": "f"})
        r = w.invoke("remediator", bad)

        def bad_input():
            detail = failure(r, "BadInput", "dryRun")
            unchanged(lab, start, "a bad payload")
            return detail + "; account unchanged"
        t.check("remediator, bad payload {dryRun:\"yes\"} → BadInput", bad_input)

        for i, (payload, mention) in enumerate([([1, 2], "JSON object"), ({"Records": []}, "Records")]):
            r2 = w.invoke("remediator", write(workdir, f"bad-input-{i + 2}.json", payload))

            def more_bad(r2=r2, mention=mention):
                detail = failure(r2, "BadInput", mention)
                unchanged(lab, start, "a bad payload")
                return detail + "; account unchanged"
            t.check(f"remediator, bad payload {json.dumps(payload)} → BadInput", more_bad)

        # ---- what changes nothing
        r = w.invoke("remediator", ev["sns-ok.json"])

        def ok_notification():
            [rep] = reports(r)
            outcome(rep, "no_action")
            expect(rep["alarm"]["state"] == "OK", f"alarm state {rep['alarm']['state']}")
            expect(any("alarm state is OK" in n for n in rep["notes"]), f"notes {rep['notes']}")
            expect(not rep["actions"], f"actions: {rep['actions']}")
            unchanged(lab, start, "an OK notification")
            return "no_action, alarm state OK, account unchanged"
        t.check("remediator, sns-ok.json → no_action", ok_notification)

        r = w.invoke("remediator", ev["manual-dry-run.json"])

        def manual_unknown():
            # checkout-worker is not in the lab's account: named, looked up, not found.
            [rep] = reports(r)
            outcome(rep, "no_action")
            expect(rep["dry_run"] is True, "not a dry run")
            expect(rep["function"] == "checkout-worker", f"function {rep['function']}")
            expect(not rep["actions"], f"actions {rep['actions']}")
            expect(rep["skipped"] == [{"function": "checkout-worker", "reason": "function not found"}],
                   f"skipped {rep['skipped']}")
            unchanged(lab, start, "a manual dry run")
            return "checkout-worker is not in the seeded account: skipped, function not found"
        t.check("remediator, manual-dry-run.json (checkout-worker) → no_action", manual_unknown)

        manual = json.loads((EVENTS / "manual-dry-run.json").read_text()) | {"functionName": OFFENDER}
        r = w.invoke("remediator", write(workdir, "manual-dry-run-offender.json", manual))

        def manual_offender():
            [rep] = reports(r)
            outcome(rep, "dry_run")
            planned = [(a["tier"], status(a)) for a in rep["actions"]]
            expect(planned == [("source", "planned"), ("reservation", "planned")], f"actions {planned}")
            unchanged(lab, start, "a manual dry run")
            return "source throttle and cap planned, account unchanged"
        t.check(f"remediator, manual-dry-run.json naming {OFFENDER} → dry_run", manual_offender)

        r = w.invoke("remediator", ev["manual-alarm-dry-run.json"])

        def manual_alarm():
            [rep] = reports(r)
            outcome(rep, "dry_run")
            expect(rep["offenders"][:1] == [OFFENDER], f"offenders {rep['offenders']}")
            planned = [(a["tier"], status(a)) for a in rep["actions"]]
            expect(planned == [("source", "planned"), ("reservation", "planned")], f"actions {planned}")
            unchanged(lab, start, "a manual alarm dry run")
            return f"{OFFENDER} found, source throttle and cap planned, account unchanged"
        t.check("remediator, manual-alarm-dry-run.json → dry_run", manual_alarm)

        # ---- the incident: first delivery, then every duplicate shape
        r = w.invoke("remediator", seeded)
        incident = {}

        def first_delivery():
            [rep] = reports(r)
            outcome(rep, "remediated")
            incident["id"] = rep["incident"]
            expect(rep["offenders"][:1] == [OFFENDER], f"offenders {rep['offenders']}")
            done = [(a["tier"], status(a), a["change"].get("new")) for a in rep["actions"]]
            expect(done == [("source", "applied", {"burst": 4, "rate": 3.33}),
                            ("reservation", "applied", {"reserved": 100})], f"actions {done}")
            rows, before = lab.functions(), parse_show(start)
            expect(rows[OFFENDER][0] == "100", f"{OFFENDER} reserved {rows[OFFENDER][0]}")
            expect(rows[OFFENDER][1].startswith(f"incident {rep['incident']}:"),
                   f"{OFFENDER} record: {rows[OFFENDER][1]}")
            others = {k: v for k, v in rows.items() if k != OFFENDER}
            expect(others == {k: v for k, v in before.items() if k != OFFENDER},
                   f"another function changed: {others}")
            stage = lab.stage_line()
            expect("~1items/GET: 3.33 req/s, burst 4" in stage, f"stage: {stage}")
            incident["state"] = lab.show()
            return (f"incident {rep['incident']}: GET /items throttled to 3.33 req/s, {OFFENDER} "
                    "reserved 100 and recorded; nobody else touched")
        t.check("remediator, seeded SNS alarm (1st delivery) → remediated", first_delivery)

        def duplicate(name: str, payload: Path):
            r = w.invoke("remediator", payload)

            def check():
                expect("id" in incident, "no first delivery to compare with")
                [rep] = reports(r)
                expect(rep["incident"] == incident["id"],
                       f"incident {rep['incident']}, the first delivery's was {incident['id']}")
                nothing_applied(rep)
                outcome(rep, "no_action")
                expect(rep["actions"] and all(status(a) == "skipped" for a in rep["actions"]),
                       f"actions {[(a['tier'], status(a)) for a in rep['actions']]}")
                redelivered(rep, incident["id"])
                unchanged(lab, incident["state"], "a duplicate delivery")
                return "no_action, same incident; " + "; ".join(
                    f"{a['tier']} skipped ({a.get('detail')})" for a in rep["actions"])
            t.check(f"remediator, {name} → nothing new", check)

        duplicate("seeded SNS alarm (2nd delivery)", seeded)
        duplicate("alarm-action.json (same alarm, direct alarm action)", ev["alarm-action.json"])
        duplicate("eventbridge-state-change.json (same alarm via EventBridge)",
                  ev["eventbridge-state-change.json"])

        # An alarm the stand-in does not have (the lab defines the stack's account alarm and the
        # victim's, not the utilisation alarm): CloudWatch does not confirm it, nothing changes.
        r = w.invoke("remediator", ev["sns-metric-math.json"])

        def unconfirmed(r=r):
            [rep] = reports(r)
            outcome(rep, "no_action")
            expect("no such alarm" in (rep.get("unconfirmed") or ""),
                   f"unconfirmed: {rep.get('unconfirmed')!r}")
            expect(rep["offenders"] == [], f"offenders {rep['offenders']}")
            nothing_applied(rep)
            unchanged(lab, incident.get("state", ""), "sns-metric-math.json")
            return f"not confirmed by CloudWatch ({rep['unconfirmed']}): account unchanged"
        t.check("remediator, sns-metric-math.json (an alarm CloudWatch does not have) → no_action",
                unconfirmed)

        # Another alarm on the same spike: a new incident, but the offender is already limited.
        for name in ("sns-victim-throttles.json",):
            r = w.invoke("remediator", ev[name])

            def other_alarm(r=r, name=name):
                [rep] = reports(r)
                outcome(rep, "no_action")
                expect(rep["incident"] != incident.get("id"), "same incident as the account alarm")
                expect(rep["offenders"][:1] == [OFFENDER], f"offenders {rep['offenders']}")
                nothing_applied(rep)
                why = skip_reasons(rep, OFFENDER)
                expect(any(f"already under remediation by incident {incident.get('id')}" in w for w in why),
                       f"{OFFENDER} skipped: {why}")
                unchanged(lab, incident.get("state", ""), name)
                return f"{OFFENDER} found again, left to incident {incident.get('id')}: account unchanged"
            t.check(f"remediator, {name} (another alarm, same spike) → no_action", other_alarm)

        # ---- the auditor's pass over what the remediator did
        r = w.invoke("auditor", ev["auditor-schedule.json"])

        def audit():
            expect("ok" in r, f"the invocation failed: {r.get('error')}: {r.get('message')}")
            body = r["ok"]
            for key in ("audit", "posture", "metric_published"):
                expect(key in body, f"no {key!r} in the response: {sorted(body)}")
            expect(body["metric_published"] is True, f"metric_published {body['metric_published']}")
            expect(isinstance(body["posture"].get("findings"), list), "posture without findings")
            incidents = body["audit"]["incidents"]
            expect("id" in incident, "no remediated incident to audit (the first delivery failed)")
            expect([i["incident"] for i in incidents] == [incident["id"]],
                   f"open records {[i['incident'] for i in incidents]}, expected {incident.get('id')}")
            [i] = incidents
            expect(i["function"] == OFFENDER, f"function {i['function']}")
            expect(i["decision"]["decision"] == "hold", f"decision {i['decision']}")
            verdicts = [v["verdict"] for v in i["verdicts"]]
            expect(verdicts == ["in_place", "in_place"], f"verdicts {verdicts}")
            expect(not body["audit"]["errors"], f"errors {body['audit']['errors']}")
            unchanged(lab, incident.get("state", ""), "a holding audit pass")
            return (f"1 open record, both actions in place, hold (grace period); "
                    f"{len(body['posture']['findings'])} posture findings; metric published")
        t.check("auditor, auditor-schedule.json → audit, posture, metric_published", audit)

        emf_check(t, w)


def incomplete_region(t: Tally, lab_bin: Path, workdir: Path) -> None:
    """A rejected cap: another function already holds 850 of the stand-in's 1000 (moto runs
    with MOTO_LAMBDA_CONCURRENCY_QUOTA=1000 and keeps 100 unreserved), so AWS refuses the
    offender's cap of 100 while its API throttle goes through — as in the end-to-end test
    a_rejected_cap_is_reported_and_leaves_no_record_of_a_change_not_made."""
    lab = Lab(lab_bin, INCOMPLETE_REGION, workdir)
    seeded = lab.seed()
    aws = lab.lambda_client()
    reserve(aws, "bystander-0", 850)

    with Watch(INCOMPLETE_REGION, workdir) as w:
        r = w.invoke("remediator", seeded)
        incident = {}

        def rejected():
            detail = failure(r, "RemediationIncomplete")
            m = re.search(r"incident\(s\) (\S+?);", r["message"])
            expect(m is not None, f"no incident in the message: {r['message']}")
            incident["id"] = m[1]
            rows = lab.functions()
            expect(rows[OFFENDER][0] == "-", f"{OFFENDER} reserved {rows[OFFENDER][0]}")
            record = rows[OFFENDER][1]
            expect(record.startswith(f"incident {m[1]}:") and ";" not in record,
                   f"{OFFENDER} record should hold the throttle alone: {record}")
            expect("~1items/GET: 3.33 req/s, burst 4" in lab.stage_line(), lab.stage_line())
            return f"{detail}; throttle applied and recorded, the refused cap not recorded"
        t.check("remediator, seeded SNS alarm with 850 reserved elsewhere → RemediationIncomplete",
                rejected)

        # Lambda retries a failed invocation; by then the other reservation is gone.
        reserve(aws, "bystander-0", None)
        r = w.invoke("remediator", seeded)

        def retry():
            [rep] = reports(r)
            outcome(rep, "remediated")
            expect(rep["incident"] == incident.get("id"), f"incident {rep['incident']}")
            applied = [a["tier"] for a in rep["actions"] if status(a) == "applied"]
            expect(applied == ["reservation"], f"applied {applied}: only the cap was missing")
            redelivered(rep, incident["id"])
            rows = lab.functions()
            expect(rows[OFFENDER][0] == "100", f"{OFFENDER} reserved {rows[OFFENDER][0]}")
            expect(rows[OFFENDER][1].count(";") == 1, f"{OFFENDER} record: {rows[OFFENDER][1]}")
            return "the throttle skipped as already made, only the missing cap applied: reserved 100"
        t.check("remediator, the same alarm retried → remediated", retry)

        emf_check(t, w, not_returned=["partial"])


def reserve(aws, function: str, n: int | None) -> None:
    """Sets (or, with None, removes) a function's reservation in the stand-in."""
    try:
        if n is None:
            aws.delete_function_concurrency(FunctionName=function)
        else:
            aws.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=n)
    except Exception as e:
        raise Abort(f"could not set {function}'s reservation to {n} in the stand-in: {e}")


def emf_check(t: Tally, w: Watch, not_returned: list[str] = ()) -> None:
    """The EMF lines the functions printed on stdout (CloudWatch turns them into metrics): each
    parses, and there is one `Incidents` line per report, with its outcome — the reports the
    remediator returned, plus `not_returned` (those of invocations that failed)."""
    def check():
        docs = []
        for line in w.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"_aws"' in line:
                try:
                    docs.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise CheckFailed(f"an EMF line is not JSON ({e}): {line}")
        for doc in docs:
            expect(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ConcurrencyGuard",
                   f"namespace: {doc}")
        got = Counter(d["Outcome"] for d in docs if "Incidents" in d)
        want = Counter(w.outcomes) + Counter(not_returned)
        expect(got == want, f"Incidents lines by outcome {dict(got)}, reports {dict(want)}")
        audits = [d["AuditFailures"] for d in docs if "AuditFailures" in d]
        expect(all(a == 0 for a in audits), f"AuditFailures {audits}")
        return (f"{len(docs)} lines; Incidents by outcome {dict(sorted(got.items()))}"
                + (f"; AuditFailures {audits}" if audits else ""))
    t.check(f"EMF lines on stdout ({w.region})", check)


def parse_show(text: str) -> dict[str, tuple[str, str]]:
    """function → (reserved, record) from `lab show`."""
    rows = {}
    for line in text.splitlines()[1:]:
        if line.startswith("REST API "):
            continue
        name, reserved, record = (line.split(None, 2) + ["", ""])[:3]
        rows[name] = (reserved, record.strip())
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", required=True, type=Path, help="the built lab binary")
    ap.add_argument("--workdir", required=True, type=Path,
                    help="emptied, then holds the payloads, the responses and the watchers' logs")
    ap.add_argument("--started", type=float, default=time.time(),
                    help="when the caller started (epoch seconds), for the time taken")
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    # A SIGTERM (CI cancelling) unwinds through the context managers: the watcher stops.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    t = Tally()
    try:
        main_region(t, args.lab, args.workdir)
        incomplete_region(t, args.lab, args.workdir)
    except Abort as e:
        t.failed += 1
        print(f"FAIL {e}", flush=True)
    print(f"--   {time.time() - args.started:.0f} s in all; payloads, responses and logs in "
          f"{args.workdir}", flush=True)
    print(f"{t.passed} passed, {t.failed} failed", flush=True)
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
