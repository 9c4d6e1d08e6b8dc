#!/usr/bin/env python3
"""The closed loop, end to end: examples/load-balancer/balancer.py (a charger's load balancer,
pymodbus) reads the virtual meter over Modbus and writes its EV set-point to the control port,
against `run examples/load-balancer/evening.yaml --speed 10` for one simulated hour of evening.
The same evening without the balancer (`--speed max`: no loop to wait for) must show the
overload on the fuse KPIs; with it, the overload must be a small fraction of that.
Prints both KPI sets (the issue's closing numbers)."""
import json, os, re, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simrun  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/smart-connect-sim"
SCENARIO = "examples/load-balancer/evening.yaml"
WORK = tempfile.mkdtemp(prefix="load-balancer-")
PORTS = ["--modbus", "127.0.0.1:0", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0",
         "--mqtt-tls-port", "0", "--mqtt-plain-port", "0"]


def run(name, speed, control, summary):
    args = [BIN, "run", SCENARIO, "--speed", speed, "--duration", "1h", "--summary", summary,
            "--state-dir", os.path.join(WORK, name), *PORTS, *control]
    return simrun.start(args, os.path.join(WORK, name + ".log"), wait_s=60)


def kpis(path):
    with open(path) as f:
        return json.load(f)


def show(name, k):
    print(f"  {name}: overload {k['overload_s']:.0f} s (per phase {k['overload_phase_s']}), "
          f"max current {k['max_current_a']} A, worst overshoot {k['worst_overshoot_a']:.1f} A "
          f"({k['worst_overshoot_pct']:.0f} %), trips {k['trips']}, EV {k['energy']['ev_kwh']:.2f} kWh, "
          f"import {k['energy']['import_kwh']:.2f} kWh", flush=True)


try:
    t0 = time.monotonic()
    off, _ = run("unbalanced", "max", ["--control", "off", "--control-modbus", "off"],
                 os.path.join(WORK, "unbalanced.json"))
    off.wait(timeout=120)
    assert off.returncode == 0, f"unbalanced run failed ({off.returncode})"
    unbalanced = kpis(os.path.join(WORK, "unbalanced.json"))

    on, text = run("balanced", "10", ["--control", "127.0.0.1:0", "--control-modbus", "127.0.0.1:0"],
                   os.path.join(WORK, "balanced.json"))
    meter = re.search(r"Modbus TCP\s+(\S+)\s", text)
    charger = re.search(r"EV setpoint\s+modbus://(\S+)\s", text)
    assert meter and charger, f"no Modbus / EV set-point line on the banner:\n{text}"
    time.sleep(6)  # the device boots (5 s device time = 0.5 s) and reads its first telegrams
    balancer = subprocess.Popen([sys.executable, "examples/load-balancer/balancer.py",
                                 "--meter", meter.group(1), "--charger", charger.group(1)],
                                preexec_fn=simrun.die_with_parent)
    on.wait(timeout=600)
    balancer.wait(timeout=30)
    assert on.returncode == 0, f"balanced run failed ({on.returncode})"
    balanced = kpis(os.path.join(WORK, "balanced.json"))
    print(f"one simulated evening hour ({time.monotonic() - t0:.0f} s real), 3x25 A fuse:")
    show("without balancer", unbalanced)
    show("with balancer.py", balanced)
    failures = []
    if unbalanced["overload_s"] < 600:
        failures.append("without the balancer the fuse KPI must show the overload (≥ 600 s)")
    if balanced["overload_s"] > 0.1 * unbalanced["overload_s"]:
        failures.append("with the balancer the overload must be under 10 % of the unbalanced one")
    if balanced["energy"]["ev_kwh"] < 3.0:
        failures.append("with the balancer the car must still charge (≥ 3 kWh)")
    if balanced["max_current_a"][0] >= unbalanced["max_current_a"][0]:
        failures.append("the balancer must lower the worst L1 current")
    for f in failures:
        print("FAIL", f)
    sys.exit(1 if failures else 0)
finally:
    for p in ("unbalanced", "balanced"):
        log = os.path.join(WORK, p + ".log")
        if os.environ.get("KEEP") and os.path.exists(log):
            print(open(log).read()[-2000:])
    shutil.rmtree(WORK, ignore_errors=True)
