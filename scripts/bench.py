#!/usr/bin/env python3
"""The harepost system benchmark: speed, cost and scale against baselines
measured in the same run (this machine is shared and noisy; only ratios
compare across runs).

    scripts/bench.py            release build, full run, writes docs/benchmarks.md
    scripts/bench.py --smoke    seconds-long check of the harness (debug build, nothing written)

Measures, with wrk (Debian package, installed when missing) on one machine:

1. lookup: GET /v1/deliveries/{id} through the gateway vs a bare Hummingbird
   endpoint answering a saved real lookup response (same size), same wrk
   threads and connections;
2. accept: POST /v1/send (durable 202) vs a bare Hummingbird endpoint that
   decodes the same JSON and answers 202;
3. deliver: deliveries/s draining an accepted backlog to recorded `delivered`
   against a local target, vs what wrk alone gets from that target; and
   send-to-target latency at a moderate fixed rate;
4. scale: lookup and first-page list latency with 1,000 and 1,000,000 stored
   deliveries;
5. footprint: each component's RSS idle and under load; `harepost up` to ready.

Needs only Python's standard library, Swift, and wrk.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 9
step_number = 0


def progress(message):
    global step_number
    step_number += 1
    print(f"[{step_number}/{STEPS}] {message}", file=sys.stderr, flush=True)


def note(message):
    print(f"      {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Component:
    """A harepost (or helper) process started by the benchmark."""

    def __init__(self, name, argv, cwd=None):
        self.name = name
        self.process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def pid(self):
        return self.process.pid

    def cpu_seconds(self):
        return cpu_seconds(self.pid)

    def memory(self):
        """(RSS, peak RSS) in MiB."""
        fields = {}
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def http_call(port, method, path, body=None, key=None, timeout=10):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def wait_until(condition, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


def wrk(url, connections, seconds, script=None, headers=(), threads=2):
    """Runs wrk; requests/s and latency percentiles in ms. Fails on errors or non-2xx answers."""
    argv = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for header in headers:
        argv += ["-H", header]
    if script:
        argv += ["-s", script]
    output = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout

    def milliseconds(text):
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
              "requests": int(re.search(r"(\d+) requests in", output).group(1))}
    for percentile in ("50", "99"):
        result[f"p{percentile}"] = milliseconds(re.search(rf"^\s+{percentile}%\s+(\S+)", output, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    if bad or errors:
        raise RuntimeError(f"wrk {url}: {bad.group(0) if bad else ''} {errors.group(0) if errors else ''}\n{output}")
    return result


def cpu_seconds(pid):
    """User plus system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def costed(components, measure):
    """Runs `measure` (one wrk run) and adds `cpu_us`: the CPU time each process spent per request, in
    microseconds, wrk's own included. On a CPU-bound machine this is what a request costs, whatever the
    throughput the noisy neighbours leave."""
    before = {component.name: component.cpu_seconds() for component in components}
    load_before = os.times()
    result = measure()
    load_after = os.times()
    requests = max(1, result["requests"])
    result["cpu_us"] = {component.name: (component.cpu_seconds() - before[component.name]) / requests * 1e6
                        for component in components}
    result["cpu_us"]["wrk"] = ((load_after.children_user + load_after.children_system)
                               - (load_before.children_user + load_before.children_system)) / requests * 1e6
    return result


def best_of(runs, measure):
    """Runs `measure` `runs` times; the run with the median requests/s."""
    results = sorted((measure() for _ in range(runs)), key=lambda r: r["rps"])
    return results[len(results) // 2]


def paired(runs, measure_baseline, measure_harepost):
    """Runs the baseline and harepost alternately, `runs` times each, so the
    slow and fast stretches of a shared machine fall on both. Returns the run
    with the median requests/s of each, and each pair's ratio (harepost over
    the baseline run just before it)."""
    baseline, harepost = [], []
    for _ in range(runs):
        baseline.append(measure_baseline())
        harepost.append(measure_harepost())
    ratios = sorted(h["rps"] / b["rps"] for b, h in zip(baseline, harepost))
    median = lambda results: sorted(results, key=lambda r: r["rps"])[len(results) // 2]
    return median(baseline), median(harepost), ratios


def lua_post(directory, name, path_body, key=None):
    """A wrk script that POSTs a JSON body."""
    path = os.path.join(directory, f"{name}.lua")
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(path_body))}",
             'wrk.headers["Content-Type"] = "application/json"']
    if key:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {key}"')
    with open(path, "w") as script:
        script.write("\n".join(lines) + "\n")
    return path


class Harepost:
    """auth, store(s) and gateway (and dispatchers when asked) in one directory; on SQLite, or on the
    PostgreSQL `database` names (a PostgresServer and a database in it)."""

    def __init__(self, binary, directory, with_dispatcher=False, database=None, stores=1):
        self.binary = binary
        self.directory = directory
        self.run = os.path.join(directory, "run")
        self.data = os.path.join(directory, "data")
        self.port = free_port()
        self.database = database
        common = ["--run-dir", self.run, "--log-level", "error"]
        on_database = ["--database", database[0].url(database[1])] if database else []
        self.components = {"auth": Component("auth", [binary, "auth", "--data-dir", self.data] + on_database + common)}
        self.store_sockets = []
        for index in range(stores):
            name = "store" if index == 0 else f"store-{index}"
            socket_path = os.path.join(self.run, f"{name}.sock")
            self.store_sockets.append(socket_path)
            self.components[name] = Component(name, [binary, "store", "--socket", socket_path, "--data-dir",
                                                     self.data, "--allow-http", "--allow-private-targets",
                                                     "--trust-all-domains"] + on_database + common)
        self.components["gateway"] = Component("gateway", [binary, "gateway", "--port", str(self.port), "--routes",
                                                          os.path.join(ROOT, "gateway-config/routes.json")] + common)
        wait_until(lambda: http_call(self.port, "GET", "/readyz")[0] == 200, what="the gateway to be ready")
        for socket_path in self.store_sockets[1:]:
            self.wait_for_health(socket_path)
        if with_dispatcher:
            self.start_dispatcher()
        account = json.loads(self.cli("accounts", "create", "--name", "bench", "--json"))
        self.account, self.key = account["id"], account["api_key"]
        self.cli("accounts", "set-rate-limit", "--account", self.account, "--per-minute", "0")

    def cli(self, *arguments):
        return subprocess.run([self.binary, *arguments, "--run-dir", self.run], capture_output=True, text=True,
                              check=True).stdout

    def wait_for_health(self, socket_path):
        wait_until(lambda: subprocess.run([self.binary, "health", "--socket", socket_path],
                                          capture_output=True).returncode == 0, what=socket_path)

    def start_dispatcher(self, store=0, name="dispatcher"):
        socket_path = os.path.join(self.run, f"{name}.sock")
        self.components[name] = Component(
            name, [self.binary, "dispatcher", "--allow-private-targets", "--run-dir", self.run, "--socket",
                   socket_path, "--store-socket", self.store_sockets[store], "--worker-id", name,
                   "--log-level", "error", "--max-in-flight", "64"])
        self.wait_for_health(socket_path)

    def sql(self, query):
        """One value from the store's database."""
        if self.database:
            return self.database[0].psql(query, self.database[1])
        database = sqlite3.connect(f"file:{self.data}/store.sqlite?mode=ro", uri=True, timeout=10)
        try:
            return database.execute(query).fetchone()[0]
        finally:
            database.close()

    def count(self, status):
        return int(self.sql(f"SELECT count(*) FROM deliveries WHERE status = '{status}'"))

    def fill(self, count, target, store=0):
        subprocess.run([self.binary, "bench", "fill", "--store-socket", self.store_sockets[store], "--account",
                        self.account, "--count", str(count), "--target", target], check=True,
                       stdout=subprocess.DEVNULL)

    def memory(self):
        return {name: component.memory() for name, component in self.components.items()}

    def stop(self):
        order = ["gateway"] + [n for n in self.components if n.startswith("dispatcher")] + \
            [n for n in self.components if n.startswith("store")] + ["auth"]
        for name in order:
            if name in self.components:
                self.components[name].stop()


class PostgresServer:
    """A throwaway PostgreSQL 15+ (Debian's package) on a loopback port, durable as in production
    (fsync and synchronous_commit on), trust authentication for the role harepost."""

    def __init__(self, directory):
        versions = sorted(os.listdir("/usr/lib/postgresql"), key=int) if os.path.isdir("/usr/lib/postgresql") else []
        if not versions:
            raise RuntimeError("PostgreSQL is not installed: scripts/install-packages.sh installs it")
        self.bin = f"/usr/lib/postgresql/{versions[-1]}/bin"
        self.directory = directory
        self.port = free_port()
        os.makedirs(directory, exist_ok=True)
        as_server = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            # The server runs as postgres, which must get through the benchmark's private work directory.
            os.chmod(os.path.dirname(directory), 0o711)
            shutil.chown(directory, "postgres", "postgres")
        self.as_server = as_server
        subprocess.run(as_server + [f"{self.bin}/initdb", "-D", f"{directory}/data", "-U", "harepost",
                                    "--auth=trust", "-E", "UTF8"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(as_server + [f"{self.bin}/pg_ctl", "start", "-w", "-D", f"{directory}/data", "-l",
                                    f"{directory}/server.log", "-o",
                                    f"-k {directory} -p {self.port} -c listen_addresses=127.0.0.1 "
                                    "-c max_connections=200"], check=True, stdout=subprocess.DEVNULL)
        with open(f"{directory}/data/postmaster.pid") as pid_file:
            self.pid = int(pid_file.readline())
        self.databases = 0
        self.name = "postgres"
        self.version = subprocess.run([f"{self.bin}/postgres", "--version"], capture_output=True, text=True,
                                      check=True).stdout.strip()

    def url(self, database):
        # Its Unix socket, as a single host's components reach it (no TCP stack on either side).
        return f"postgres://harepost@localhost:{self.port}/{database}?host={self.directory}"

    def psql(self, query, database="postgres"):
        return subprocess.run([f"{self.bin}/psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h",
                               self.directory, "-p", str(self.port), "-U", "harepost", "-d", database, "-c", query],
                              capture_output=True, text=True, check=True).stdout.strip()

    def create_database(self):
        self.databases += 1
        name = f"bench{self.databases}"
        self.psql(f"CREATE DATABASE {name}")
        return (self, name)

    def cpu_seconds(self):
        """CPU time of the postmaster and every server process, the exited ones included."""
        total = 0.0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry) == self.pid:
                total += sum(int(f) for f in fields[11:15])  # its own time and its reaped children's
            elif int(fields[1]) == self.pid:
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self):
        subprocess.run(self.as_server + [f"{self.bin}/pg_ctl", "stop", "-w", "-m", "fast", "-D",
                                         f"{self.directory}/data"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


class LatencyReceiver:
    """A webhook target in this process that records send-to-arrival latency."""

    def __init__(self):
        latencies = self.latencies = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()
                try:
                    latencies.append((arrived - json.loads(body)["sent_at"]) * 1000)
                except (ValueError, KeyError):
                    pass
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({model}), {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="seconds-long run of the harness; writes nothing")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--scale", type=int, default=1_000_000, help="deliveries stored for the scale run")
    parser.add_argument("--output", default=os.path.join(ROOT, "docs/benchmarks.md"))
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite",
                        help="postgres: the same system on PostgreSQL against SQLite, side by side")
    parser.add_argument("--backlog", type=int, default=20_000, help="deliveries per drain (--engine postgres)")
    options = parser.parse_args()
    if options.smoke:
        options.seconds, options.scale, options.backlog = 1, 5_000, 1_000
    runs = 1 if options.smoke else 3
    configuration = "debug" if options.smoke else "release"

    progress(f"building ({configuration}) and installing wrk if missing")
    if not shutil.which("wrk"):
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"], check=True)
    for product in ("harepost", "harepost-baseline"):
        subprocess.run(["swift", "build", "-c", configuration, "--product", product], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    bin_path = subprocess.run(["swift", "build", "-c", configuration, "--show-bin-path"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    binary = os.path.join(bin_path, "harepost")
    baseline_binary = os.path.join(bin_path, "harepost-baseline")
    work = tempfile.mkdtemp(prefix="hp-bench-", dir="/tmp")
    if options.engine == "postgres":
        try:
            results = postgres_bench(options, binary, baseline_binary, work, runs)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(postgres_summary(results))
        if options.smoke:
            print("(smoke run: docs/benchmarks.md not written)")
        else:
            write_section(options.output, "postgres", render_postgres(results))
            print(f"written to {os.path.relpath(options.output)}")
        return
    results = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "configuration": configuration,
               "seconds": options.seconds, "connections": options.connections}
    helpers = []
    system = None
    scale_systems = []
    try:
        progress("starting auth, store and gateway")
        system = Harepost(binary, os.path.join(work, "main"))

        status, answer = http_call(system.port, "POST", "/v1/send",
                                   {"target": "http://127.0.0.1:9/none", "body": {"event": "order.paid", "order": 42}},
                                   system.key)
        queue_id = json.loads(answer)["queue_id"]
        status, lookup_body = http_call(system.port, "GET", f"/v1/deliveries/{queue_id}", key=system.key)
        assert status == 200, status
        body_file = os.path.join(work, "lookup.json")
        with open(body_file, "wb") as saved:
            saved.write(lookup_body)
        baseline_port = free_port()
        baseline = Component("baseline", [baseline_binary, "--port", str(baseline_port),
                                          "--lookup-body", body_file])
        helpers.append(baseline)
        wait_until(lambda: http_call(baseline_port, "GET", "/v1/deliveries/x")[0] == 200, what="the baseline")

        progress(f"lookup: gateway vs bare Hummingbird, {options.connections} connections, {runs}x{options.seconds}s each")
        auth_header = f"Authorization: Bearer {system.key}"
        serving = list(system.components.values())
        base_lookup, gateway_lookup, lookup_ratios = paired(runs, lambda: costed([baseline], lambda: wrk(
            f"http://127.0.0.1:{baseline_port}/v1/deliveries/{queue_id}", options.connections, options.seconds,
            headers=[auth_header])), lambda: costed(serving, lambda: wrk(
                f"http://127.0.0.1:{system.port}/v1/deliveries/{queue_id}", options.connections, options.seconds,
                headers=[auth_header])))
        results["lookup"] = {"baseline": base_lookup, "harepost": gateway_lookup, "ratios": lookup_ratios,
                             "body_bytes": len(lookup_body)}
        lookup_memory = system.memory()

        progress("accept: POST /v1/send vs bare Hummingbird (no dispatcher running: the sends become the backlog)")
        receiver_port = free_port()
        target = Component("target", [sys.executable, os.path.join(ROOT, "scripts/bench_target.py"),
                                      str(receiver_port)])
        helpers.append(target)
        wait_until(lambda: http_call(receiver_port, "POST", "/hook", {})[0] == 200, what="the target")
        send_body = {"target": f"http://127.0.0.1:{receiver_port}/hook",
                     "body": {"event": "order.paid", "order": 42, "amount": 1999, "currency": "EUR"},
                     "headers": {"X-Shop": "acme"}}
        before = system.count("queued")
        base_accept, gateway_accept, accept_ratios = paired(runs, lambda: costed([baseline], lambda: wrk(
            f"http://127.0.0.1:{baseline_port}/v1/send", options.connections, options.seconds,
            script=lua_post(work, "baseline", send_body))), lambda: costed(serving, lambda: wrk(
                f"http://127.0.0.1:{system.port}/v1/send", options.connections, options.seconds,
                script=lua_post(work, "send", send_body, system.key))))
        backlog = system.count("queued") - before
        results["accept"] = {"baseline": base_accept, "harepost": gateway_accept, "ratios": accept_ratios}
        accept_memory = system.memory()

        progress(f"deliver: draining {backlog} accepted sends to a local target vs wrk alone on that target")
        raw_target = best_of(runs, lambda: wrk(f"http://127.0.0.1:{receiver_port}/hook", 64, options.seconds,
                                               script=lua_post(work, "hook", send_body["body"])))
        delivered_before = system.count("delivered")
        # The backlog is whatever the accept runs stored, so the time to drain
        # it grows with accept's speed: allow three times what the target's raw
        # capacity needs (and at least 10 minutes) before calling it stuck.
        drain_limit = max(600.0, 3 * backlog / max(1.0, raw_target["rps"]))
        started = time.time()
        system.start_dispatcher()
        peak_dispatcher = 0.0
        while system.count("delivered") - delivered_before < backlog:
            peak_dispatcher = max(peak_dispatcher, system.components["dispatcher"].memory()[0])
            time.sleep(0.05)
            if time.time() - started > drain_limit:
                raise RuntimeError(f"the backlog did not drain in {drain_limit:.0f} s")
        drain = time.time() - started
        deliver_memory = system.memory()
        results["deliver"] = {"backlog": backlog, "seconds": drain, "rate": backlog / drain, "raw": raw_target}

        # The same against a fast target (the bare Hummingbird /hook), where
        # harepost rather than the receiver sets the pace.
        system.components.pop("dispatcher").stop()
        fast_body = dict(send_body, target=f"http://127.0.0.1:{baseline_port}/hook")
        before = system.count("queued")
        wrk(f"http://127.0.0.1:{system.port}/v1/send", options.connections, max(1, options.seconds // 2),
            script=lua_post(work, "send-fast", fast_body, system.key))
        fast_backlog = system.count("queued") - before
        fast_raw = best_of(runs, lambda: wrk(f"http://127.0.0.1:{baseline_port}/hook", 64, options.seconds,
                                             script=lua_post(work, "hook-fast", send_body["body"])))
        delivered_before = system.count("delivered")
        started = time.time()
        system.start_dispatcher()
        while system.count("delivered") - delivered_before < fast_backlog:
            time.sleep(0.05)
            if time.time() - started > 600:
                raise RuntimeError("the fast-target backlog did not drain in 10 minutes")
        fast_drain = time.time() - started
        results["deliver_fast"] = {"backlog": fast_backlog, "seconds": fast_drain, "rate": fast_backlog / fast_drain,
                                   "raw": fast_raw}

        progress("send-to-target latency at 50 sends/s")
        receiver = LatencyReceiver()
        rate, total = 50, 50 * (2 if options.smoke else 20)
        connection = http.client.HTTPConnection("127.0.0.1", system.port, timeout=10)
        start = time.time()
        for i in range(total):
            time.sleep(max(0.0, start + i / rate - time.time()))
            body = json.dumps({"target": f"http://127.0.0.1:{receiver.port}/lat", "body": {"sent_at": time.time()}})
            connection.request("POST", "/v1/send", body=body, headers={"Authorization": f"Bearer {system.key}",
                                                                        "Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            assert response.status == 202, response.status
        wait_until(lambda: len(receiver.latencies) >= total, what="the latency deliveries")
        receiver.server.shutdown()
        results["latency"] = {"rate": rate, "count": total, "p50": percentile(receiver.latencies, 0.5),
                              "p99": percentile(receiver.latencies, 0.99)}
        results["memory"] = {"lookup": lookup_memory, "accept": accept_memory, "deliver": deliver_memory,
                             "dispatcher_peak": peak_dispatcher}
        system.stop()
        system = None

        progress(f"scale: lookup and first page with 1,000 and with {options.scale:,} stored deliveries")
        # Two systems side by side, measured in alternation, so both sizes see
        # the same machine noise.
        small, large = Harepost(binary, os.path.join(work, "small")), Harepost(binary, os.path.join(work, "large"))
        scale_systems = [small, large]

        def fill(target_system, count):
            target_system.fill(count, "http://127.0.0.1:9/none")

        def probe_id(probed):
            # A delivery among the first thousand stored: present at both sizes.
            status, page = http_call(probed.port, "GET", "/v1/deliveries?limit=100", key=probed.key)
            return json.loads(page)["data"][50]["queue_id"]

        fill(small, 1000)
        fill(large, 1000)
        probes = {id(small): probe_id(small), id(large): probe_id(large)}
        started = time.time()
        fill(large, options.scale - 1000)
        fill_seconds = time.time() - started
        samples = {id(small): {"lookup": [], "page": []}, id(large): {"lookup": [], "page": []}}
        seconds = max(2, options.seconds // 2)
        for _ in range(runs):
            for measured in (small, large):
                header = [f"Authorization: Bearer {measured.key}"]
                samples[id(measured)]["lookup"].append(
                    wrk(f"http://127.0.0.1:{measured.port}/v1/deliveries/{probes[id(measured)]}", 1, seconds,
                        headers=header))
                samples[id(measured)]["page"].append(
                    wrk(f"http://127.0.0.1:{measured.port}/v1/deliveries?limit=25", 1, seconds, headers=header))

        def median_run(runs_of_one):
            return sorted(runs_of_one, key=lambda r: r["p50"])[len(runs_of_one) // 2]

        results["scale"] = {
            "small": {kind: median_run(samples[id(small)][kind]) for kind in ("lookup", "page")},
            "large": {kind: median_run(samples[id(large)][kind]) for kind in ("lookup", "page")},
            "count": options.scale, "fill_seconds": fill_seconds,
            "database_mib": os.path.getsize(os.path.join(large.data, "store.sqlite")) / 2**20,
        }
        for finished in scale_systems:
            finished.stop()
        scale_systems = []

        progress("harepost up: time to ready (3 fresh starts), idle footprint of each component")
        ready = []
        for attempt in range(3):
            directory = os.path.join(work, f"up{attempt}")
            began = time.time()
            up = subprocess.Popen([binary, "up", "--dev", "--port", str(free_port()), "--data-dir",
                                   os.path.join(directory, "data"), "--run-dir", os.path.join(directory, "run"),
                                   "--routes", os.path.join(ROOT, "gateway-config/routes.json"), "--log-level",
                                   "error"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for line in up.stdout:
                if line.startswith("harepost is up"):
                    ready.append((time.time() - began) * 1000)
                    break
            if attempt == 0:
                time.sleep(2)
                idle = {}
                for name in ("auth", "store", "dispatcher", "gateway"):
                    with open(os.path.join(directory, "run", f"{name}.pid")) as pid_file:
                        pid = int(pid_file.read())
                    with open(f"/proc/{pid}/status") as status:
                        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
                    idle[name] = (rss / 1024, rss / 1024)
                results["memory"]["idle"] = idle
            up.send_signal(signal.SIGTERM)
            up.wait(timeout=30)
        results["up_ready_ms"] = statistics.median(ready)

        progress("writing the results")
    finally:
        for helper in helpers:
            helper.stop()
        for leftover in ([system] if system else []) + scale_systems:
            leftover.stop()
        shutil.rmtree(work, ignore_errors=True)

    report = render(results)
    print(summary(results))
    if options.smoke:
        print("(smoke run: docs/benchmarks.md not written)")
    else:
        write_section(options.output, "system", report)
        print(f"written to {os.path.relpath(options.output)}")


def drain(system, backlog, dispatchers, measured):
    """Starts `dispatchers` (store index each) on `system`, whose store holds `backlog` due deliveries, and
    waits until all are delivered. Returns the steady rate (from 10% to 90% delivered, so start-up is left
    out), the CPU per delivery of each process in `measured` and of the dispatchers, and the duplicates: attempts
    beyond one per delivery."""
    before = {process.name: process.cpu_seconds() for process in measured}
    started = time.time()
    for index, store in enumerate(dispatchers):
        system.start_dispatcher(store=store, name=f"dispatcher-{index}")
    marks = {}
    while True:
        delivered = system.count("delivered")
        for fraction in (0.1, 0.9):
            if fraction not in marks and delivered >= fraction * backlog:
                marks[fraction] = time.time()
        if delivered >= backlog:
            break
        if time.time() - started > 900:
            raise RuntimeError(f"{delivered} of {backlog} delivered after 15 minutes")
        time.sleep(0.25)
    cost = {process.name: (process.cpu_seconds() - before[process.name]) / backlog * 1e6 for process in measured}
    cost["dispatchers"] = sum(component.cpu_seconds() for name, component in system.components.items()
                              if name.startswith("dispatcher")) / backlog * 1e6
    attempts = int(system.sql("SELECT count(*) FROM attempts"))
    most = int(system.sql("SELECT coalesce(max(attempts), 0) FROM deliveries"))
    return {"rate": 0.8 * backlog / max(1e-3, marks[0.9] - marks[0.1]), "cpu_us": cost,
            "duplicates": attempts - backlog, "most_attempts": most}


def postgres_bench(options, binary, baseline_binary, work, runs):
    """The system on PostgreSQL against the same system on SQLite, measured in alternation."""
    global STEPS
    STEPS = 5
    results = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "configuration": "debug" if options.smoke
               else "release", "seconds": options.seconds, "connections": options.connections,
               "backlog": options.backlog}
    server, helpers, systems = None, [], []
    try:
        progress("starting PostgreSQL, and auth + store + gateway on SQLite and on PostgreSQL")
        server = PostgresServer(os.path.join(work, "postgres"))
        results["postgres"] = server.version
        lite = Harepost(binary, os.path.join(work, "sqlite"))
        pg = Harepost(binary, os.path.join(work, "pg"), database=server.create_database())
        systems = [lite, pg]
        body_file = os.path.join(work, "lookup.json")
        with open(body_file, "w") as saved:
            saved.write("{}")
        hook_port = free_port()
        hook = Component("target", [baseline_binary, "--port", str(hook_port), "--lookup-body", body_file])
        helpers.append(hook)
        wait_until(lambda: http_call(hook_port, "POST", "/hook", {})[0] == 200, what="the target")

        progress(f"lookup and accept: SQLite and PostgreSQL in alternation, {runs}x{options.seconds}s each")
        queue_ids = {}
        for system in systems:
            status, answer = http_call(system.port, "POST", "/v1/send", {"target": "http://127.0.0.1:9/none",
                                       "body": {"event": "order.paid", "order": 42}}, system.key)
            queue_ids[id(system)] = json.loads(answer)["queue_id"]

        def lookup(system, processes):
            return lambda: costed(processes, lambda: wrk(
                f"http://127.0.0.1:{system.port}/v1/deliveries/{queue_ids[id(system)]}", options.connections,
                options.seconds, headers=[f"Authorization: Bearer {system.key}"]))

        send_body = {"target": "http://127.0.0.1:9/none",
                     "body": {"event": "order.paid", "order": 42, "amount": 1999, "currency": "EUR"},
                     "headers": {"X-Shop": "acme"}}

        def accept(system, processes, name):
            return lambda: costed(processes, lambda: wrk(
                f"http://127.0.0.1:{system.port}/v1/send", options.connections, options.seconds,
                script=lua_post(work, name, send_body, system.key)))

        lite_processes = list(lite.components.values())
        pg_processes = list(pg.components.values()) + [server]
        lite_lookup, pg_lookup, lookup_ratios = paired(runs, lookup(lite, lite_processes), lookup(pg, pg_processes))
        results["lookup"] = {"sqlite": lite_lookup, "postgres": pg_lookup, "ratios": lookup_ratios}
        lite_accept, pg_accept, accept_ratios = paired(runs, accept(lite, lite_processes, "lite"),
                                                       accept(pg, pg_processes, "pg"))
        results["accept"] = {"sqlite": lite_accept, "postgres": pg_accept, "ratios": accept_ratios}
        for system in systems:
            system.stop()
        systems = []

        progress(f"deliver: {runs} rounds of draining {options.backlog:,} deliveries to a fast local target: "
                 "SQLite, PostgreSQL, and PostgreSQL with 2 stores and 3 dispatchers")
        target = f"http://127.0.0.1:{hook_port}/hook"
        rounds = {"sqlite": [], "postgres": [], "scaleout": []}
        for round_number in range(runs):
            for kind in rounds:
                database = None if kind == "sqlite" else server.create_database()
                system = Harepost(binary, os.path.join(work, f"{kind}-{round_number}"), database=database,
                                  stores=2 if kind == "scaleout" else 1)
                systems = [system]
                if kind == "scaleout":
                    system.fill(options.backlog // 2, target, store=0)
                    system.fill(options.backlog - options.backlog // 2, target, store=1)
                else:
                    system.fill(options.backlog, target)
                measured = [system.components[n] for n in system.components if n.startswith("store")]
                measured += [hook] + ([server] if database else [])
                rounds[kind].append(drain(system, options.backlog, [0, 1, 0] if kind == "scaleout" else [0],
                                          measured))
                note(f"{kind}: {rounds[kind][-1]['rate']:.0f} deliveries/s")
                system.stop()
                systems = []
        median = lambda runs_of_one: sorted(runs_of_one, key=lambda r: r["rate"])[len(runs_of_one) // 2]
        results["deliver"] = {kind: median(values) for kind, values in rounds.items()}
        results["deliver"]["ratios"] = sorted(p["rate"] / l["rate"] for l, p in zip(rounds["sqlite"],
                                                                                    rounds["postgres"]))
        results["deliver"]["scaleout_ratios"] = sorted(o["rate"] / p["rate"] for p, o in zip(rounds["postgres"],
                                                                                           rounds["scaleout"]))
        results["deliver"]["duplicates"] = sum(r["duplicates"] for values in rounds.values() for r in values)
        results["deliver"]["most_attempts"] = max(r["most_attempts"] for values in rounds.values() for r in values)
        progress("writing the results")
    finally:
        for system in systems:
            system.stop()
        for helper in helpers:
            helper.stop()
        if server:
            server.stop()
    return results


def median_ratio(ratios):
    return f"{100 * ratios[len(ratios) // 2]:.0f}%", f"{100 * ratios[0]:.0f}-{100 * ratios[-1]:.0f}%"


def postgres_summary(r):
    deliver = r["deliver"]
    return "\n".join([
        f"lookup    PostgreSQL {r['lookup']['postgres']['rps']:.0f} req/s = {median_ratio(r['lookup']['ratios'])[0]} of SQLite (target >= 80%)",
        f"accept    PostgreSQL {r['accept']['postgres']['rps']:.0f} req/s = {median_ratio(r['accept']['ratios'])[0]} of SQLite (target >= 60%)",
        f"deliver   PostgreSQL {deliver['postgres']['rate']:.0f}/s = {median_ratio(deliver['ratios'])[0]} of SQLite (target >= 70%)",
        f"scale-out 2 stores + 3 dispatchers {deliver['scaleout']['rate']:.0f}/s = {median_ratio(deliver['scaleout_ratios'])[0]} of 1 + 1 (target >= 95%); duplicates {deliver['duplicates']}",
    ])


def render_postgres(r):
    lookup, accept, deliver = r["lookup"], r["accept"], r["deliver"]

    def cost_cells(cost, names):
        return " | ".join(f"{cost[name]:.0f}" if name in cost else "-" for name in names)

    request_columns = ["gateway", "store", "auth", "postgres", "wrk"]
    lines = [
        "## PostgreSQL against SQLite, same run",
        "",
        f"{r['date']}, {r['machine']}, {r['configuration']} build, {r['postgres']} on the same host, reached",
        "over its Unix socket, with its defaults (`fsync` and `synchronous_commit` on: a 202 is on disk, as with",
        "SQLite's `synchronous = FULL`), store and auth pools of 10. Reproduce: `scripts/bench.py --engine postgres`.",
        "Both systems run side by side and are measured in alternation; each ratio is the median of the three",
        "pairs' ratios (their range in brackets), the tables show each side's median run.",
        "",
        "| measure | SQLite | PostgreSQL | PostgreSQL / SQLite | target |",
        "|---|---|---|---|---|",
        f"| lookup `GET /v1/deliveries/{{id}}`, requests/s | {lookup['sqlite']['rps']:.0f} | "
        f"{lookup['postgres']['rps']:.0f} | **{median_ratio(lookup['ratios'])[0]}** ({median_ratio(lookup['ratios'])[1]}) | >= 80% |",
        f"| accept `POST /v1/send`, requests/s | {accept['sqlite']['rps']:.0f} | {accept['postgres']['rps']:.0f} | "
        f"**{median_ratio(accept['ratios'])[0]}** ({median_ratio(accept['ratios'])[1]}) | >= 60% |",
        f"| deliver, 1 store + 1 dispatcher, deliveries/s | {deliver['sqlite']['rate']:.0f} | "
        f"{deliver['postgres']['rate']:.0f} | **{median_ratio(deliver['ratios'])[0]}** ({median_ratio(deliver['ratios'])[1]}) | >= 70% |",
        "",
        f"Lookup and accept: wrk, {r['connections']} connections, {r['seconds']} s per run; lookup p99 "
        f"{lookup['sqlite']['p99']:.2f} ms on SQLite, {lookup['postgres']['p99']:.2f} ms on PostgreSQL.",
        f"Deliver: a backlog of {r['backlog']:,} deliveries stored through the Send RPC, drained to `delivered`",
        "against the bare Hummingbird `POST /hook` (fast, so harepost sets the pace), 64 in flight per dispatcher;",
        "the rate is taken from 10% to 90% delivered, leaving process start-up out.",
        "",
        "### Several stores and dispatchers on one database",
        "",
        f"2 stores and 3 dispatchers (two on the first store, one on the second) drain the same backlog at "
        f"**{deliver['scaleout']['rate']:.0f} deliveries/s**, "
        f"**{median_ratio(deliver['scaleout_ratios'])[0]}** ({median_ratio(deliver['scaleout_ratios'])[1]}) of one store "
        f"and one dispatcher on PostgreSQL (target >= 95%). Duplicates over all {3 * len(deliver['ratios'])} drains: "
        f"**{deliver['duplicates']}** (attempts beyond one per delivery; the most any delivery had: "
        f"{deliver['most_attempts']}).",
        "",
        "On this 2-core machine more processes cannot add throughput: every process, the target and PostgreSQL",
        "share the same two cores, so the point is that the work splits across stores and dispatchers with no",
        "collapse, no duplicate and no starvation. On separate hosts each store and dispatcher brings its own",
        "cores, and the database's share below is what bounds the fleet.",
        "",
        "### Where the cost goes",
        "",
        "CPU time per request or per delivery in µs, from `/proc/<pid>/stat` (PostgreSQL: the postmaster and",
        "every server process). The cores are the budget: requests/s is about 2,000,000 µs divided by a row's sum.",
        "",
        "| run | gateway | store(s) | auth | PostgreSQL | wrk or target | dispatcher(s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, measured in (("lookup, SQLite", lookup["sqlite"]), ("lookup, PostgreSQL", lookup["postgres"]),
                           ("accept, SQLite", accept["sqlite"]), ("accept, PostgreSQL", accept["postgres"])):
        lines.append(f"| {name} | {cost_cells(measured['cpu_us'], request_columns)} | - |")
    for name, kind in (("deliver, SQLite", "sqlite"), ("deliver, PostgreSQL", "postgres"),
                       ("deliver, 2 stores + 3 dispatchers", "scaleout")):
        cost = dict(deliver[kind]["cpu_us"])
        cost["store"] = sum(v for k, v in cost.items() if k.startswith("store"))
        lines.append(f"| {name} | - | {cost['store']:.0f} | - | "
                     f"{cost['postgres']:.0f} | {cost['target']:.0f} | {cost['dispatchers']:.0f} |"
                     if "postgres" in cost else
                     f"| {name} | - | {cost['store']:.0f} | - | - | {cost['target']:.0f} | {cost['dispatchers']:.0f} |")
    return "\n".join(lines)


def ratio(a, b):
    return f"{100 * a / b:.0f}%"


def paired_ratio(measured):
    """The median of the paired runs' ratios, and their range."""
    ratios = measured["ratios"]
    return f"{100 * ratios[len(ratios) // 2]:.0f}%", f"{100 * ratios[0]:.0f}-{100 * ratios[-1]:.0f}%"


def cost_text(measured):
    return ", ".join(f"{name} {value:.0f} us" for name, value in measured["cpu_us"].items() if value >= 0.5)


def summary(r):
    lookup, accept, deliver = r["lookup"], r["accept"], r["deliver"]
    small, large = r["scale"]["small"], r["scale"]["large"]
    idle = max(v[0] for v in r["memory"]["idle"].values())
    return "\n".join([
        f"lookup   {lookup['harepost']['rps']:.0f} req/s = {paired_ratio(lookup)[0]} of bare Hummingbird (pairs {paired_ratio(lookup)[1]}; target >= 60%), p99 {lookup['harepost']['p99']:.2f} ms (target <= 5; bare {lookup['baseline']['p99']:.2f} ms)",
        f"         CPU per lookup: {cost_text(lookup['harepost'])} vs bare {cost_text(lookup['baseline'])}",
        f"accept   {accept['harepost']['rps']:.0f} req/s = {paired_ratio(accept)[0]} of bare Hummingbird (pairs {paired_ratio(accept)[1]}; target >= 40%)",
        f"         CPU per send: {cost_text(accept['harepost'])} vs bare {cost_text(accept['baseline'])}",
        f"deliver  {deliver['rate']:.0f} deliveries/s = {ratio(deliver['rate'], deliver['raw']['rps'])} of the target's raw capacity (target >= 50%); latency p50 {r['latency']['p50']:.1f} ms p99 {r['latency']['p99']:.1f} ms",
        f"         against a fast target: {r['deliver_fast']['rate']:.0f} deliveries/s = {ratio(r['deliver_fast']['rate'], r['deliver_fast']['raw']['rps'])} of its raw capacity",
        f"scale    lookup p50 x{large['lookup']['p50'] / small['lookup']['p50']:.2f}, first page p50 x{large['page']['p50'] / small['page']['p50']:.2f} at {r['scale']['count']:,} vs 1,000 (target <= 1.5)",
        f"memory   largest idle RSS {idle:.1f} MiB (target < 64); up ready in {r['up_ready_ms']:.0f} ms (target < 2000)",
    ])


def cost_row(name, measured):
    cost = measured["cpu_us"]
    server = cost.get("baseline", cost.get("gateway", 0))

    def cell(value):
        return f"{value:.0f}" if value is not None else "-"

    return (f"| {name} | {cell(server)} | {cell(cost.get('store'))} | {cell(cost.get('auth'))} | "
            f"{cell(cost['wrk'])} | {cell(sum(cost.values()))} |")


def render(r):
    lookup, accept, deliver, latency, scale, memory = (r["lookup"], r["accept"], r["deliver"], r["latency"],
                                                        r["scale"], r["memory"])

    def row(name, m):
        return f"| {name} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} |"

    lines = [
        "## System: gateway, store, dispatcher against same-run baselines",
        "",
        f"{r['date']}, {r['machine']}, {r['configuration']} build, SQLite. Load: wrk, 2 threads,",
        f"{r['connections']} connections, {r['seconds']} s per run, the median of 3 runs. Reproduce: `scripts/bench.py`.",
        "Lookup and accept alternate a bare run and a harepost run three times; each ratio is the median of",
        "the three pairs' ratios (their range in brackets), the table shows each side's median run.",
        "",
        "### Lookup and accept",
        "",
        "| endpoint | requests/s | p50 ms | p99 ms |",
        "|---|---|---|---|",
        row("bare Hummingbird `GET /v1/deliveries/{id}` (fixed body)", lookup["baseline"]),
        row("harepost `GET /v1/deliveries/{id}`", lookup["harepost"]),
        row("bare Hummingbird `POST /v1/send` (decode, 202)", accept["baseline"]),
        row("harepost `POST /v1/send` (durable 202)", accept["harepost"]),
        "",
        f"Lookup reaches **{paired_ratio(lookup)[0]}** ({paired_ratio(lookup)[1]}) of the bare endpoint "
        f"(same {lookup['body_bytes']}-byte body); accept reaches "
        f"**{paired_ratio(accept)[0]}** ({paired_ratio(accept)[1]}).",
        "",
        f"wrk keeps {r['connections']} requests in flight, so a run's mean latency is {r['connections']} / requests/s and its "
        "p99 moves with the machine's speed: the tail's shape is p99 over p50, for lookup "
        f"x{lookup['harepost']['p99'] / lookup['harepost']['p50']:.2f} through harepost against "
        f"x{lookup['baseline']['p99'] / lookup['baseline']['p50']:.2f} for the bare endpoint.",
        "",
        "What a request costs: CPU time per request in µs, from `/proc/<pid>/stat` around the same median runs.",
        "All processes share the 2 cores, so requests/s is about 2,000,000 µs (one second of both cores)",
        "divided by the sum of a row; the ratio of the sums is the ratio a quiet machine would show:",
        "",
        "| run | gateway or bare server | store | auth | wrk | sum |",
        "|---|---|---|---|---|---|",
        cost_row("bare lookup", lookup["baseline"]),
        cost_row("harepost lookup", lookup["harepost"]),
        cost_row("bare accept", accept["baseline"]),
        cost_row("harepost accept", accept["harepost"]),
        "",
        "### Deliver",
        "",
        f"A backlog of {deliver['backlog']:,} accepted sends drained to `delivered` in {deliver['seconds']:.1f} s: "
        f"**{deliver['rate']:.0f} deliveries/s**, one dispatcher with 64 in flight. wrk alone (64 connections) "
        f"gets {deliver['raw']['rps']:.0f} requests/s from the same target (`scripts/bench_target.py`, a Python "
        f"keep-alive HTTP/1.1 receiver): harepost delivers at **{ratio(deliver['rate'], deliver['raw']['rps'])}** "
        "of the target's raw capacity.",
        "",
        f"Against a fast target (the bare Hummingbird `POST /hook`, {r['deliver_fast']['raw']['rps']:.0f} requests/s "
        f"with wrk alone), a backlog of {r['deliver_fast']['backlog']:,} drained at "
        f"**{r['deliver_fast']['rate']:.0f} deliveries/s** "
        f"({ratio(r['deliver_fast']['rate'], r['deliver_fast']['raw']['rps'])} of that target's capacity): this is "
        "harepost's own delivery pipeline (claim, HTTP, record), one dispatcher, 64 in flight.",
        "",
        f"Send-to-target latency at {latency['rate']} sends/s ({latency['count']} sends, from the client's POST to "
        f"the target receiving it): p50 **{latency['p50']:.1f} ms**, p99 **{latency['p99']:.1f} ms**.",
        "",
        "### Scale",
        "",
        "Two systems side by side, one with 1,000 and one with the large count, measured in alternation (one",
        "connection, so latency is not queueing; the median of 3 runs each):",
        "",
        "| stored deliveries | lookup p50 ms | lookup p99 ms | first page p50 ms | first page p99 ms |",
        "|---|---|---|---|---|",
        f"| 1,000 | {scale['small']['lookup']['p50']:.2f} | {scale['small']['lookup']['p99']:.2f} | "
        f"{scale['small']['page']['p50']:.2f} | {scale['small']['page']['p99']:.2f} |",
        f"| {scale['count']:,} | {scale['large']['lookup']['p50']:.2f} | {scale['large']['lookup']['p99']:.2f} | "
        f"{scale['large']['page']['p50']:.2f} | {scale['large']['page']['p99']:.2f} |",
        "",
        f"At {scale['count']:,} the lookup takes **x{scale['large']['lookup']['p50'] / scale['small']['lookup']['p50']:.2f}** "
        f"and the first page **x{scale['large']['page']['p50'] / scale['small']['page']['p50']:.2f}** of their time at "
        f"1,000 (p50). Storing them through the store's Send RPC took {scale['fill_seconds']:.0f} s; "
        f"store.sqlite is {scale['database_mib']:.0f} MiB.",
        "",
        "### Footprint",
        "",
        "Idle: a fresh `harepost up`, 2 s after ready. The other columns: the benchmark's components right after",
        "each load phase (the dispatcher runs only from the deliver phase on).",
        "",
        "| component | idle RSS MiB | after lookup load | after accept load | after delivering |",
        "|---|---|---|---|---|",
    ]
    for name in ("auth", "store", "gateway", "dispatcher"):
        def cell(phase):
            value = memory[phase].get(name)
            return f"{value[0]:.1f}" if value else "-"
        lines.append(f"| {name} | {cell('idle')} | {cell('lookup')} | {cell('accept')} | {cell('deliver')} |")
    lines += [
        "",
        f"The dispatcher peaked at {memory['dispatcher_peak']:.1f} MiB while draining. `harepost up` is ready "
        f"(every component healthy, dev account made) **{r['up_ready_ms']:.0f} ms** after it starts (median of 3 "
        "fresh starts).",
    ]
    return "\n".join(lines)


def write_section(path, name, body):
    """Replaces (or appends) the `<!-- bench:NAME -->` section of the benchmarks document."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    section = f"{begin}\n{body}\n{end}"
    if begin in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    with open(path, "w") as document:
        document.write(text)


if __name__ == "__main__":
    main()
