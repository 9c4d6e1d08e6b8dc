#!/usr/bin/env python3
"""A 50-line EV load balancer, as a charger would run it: read the phase currents from the
Smart Connect's Modbus (EMPro map, CD-AB floats), subtract what the charger itself draws,
and give the car what is left under the main fuse. Usage:
    balancer.py --meter 127.0.0.1:5020 --charger 127.0.0.1:5021 [--fuse 25] [--period 0.25]
The charger here is the simulator's EV (holding register 0 = set-point in 0.1 A, register 2 =
what it draws now in 0.1 A). Stops when the meter goes away."""
import argparse, sys, time
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

p = argparse.ArgumentParser()
p.add_argument("--meter", required=True)
p.add_argument("--charger", required=True)
p.add_argument("--fuse", type=float, default=25.0)
p.add_argument("--margin", type=float, default=1.0, help="A kept free below the fuse")
p.add_argument("--max", type=float, default=16.0, help="the car's most per phase, A")
p.add_argument("--period", type=float, default=0.25, help="seconds between decisions")
a = p.parse_args()

def client(addr):
    host, port = addr.rsplit(":", 1)
    c = ModbusTcpClient(host, port=int(port), timeout=2)
    if not c.connect():
        sys.exit(f"balancer: cannot connect to {addr}")
    return c

meter, charger = client(a.meter), client(a.charger)
decisions = 0
while True:
    try:
        regs = meter.read_holding_registers(0x800E, count=6).registers  # I L1..L3
        amps = [meter.convert_from_registers(regs[i:i + 2], data_type=meter.DATATYPE.FLOAT32,
                                             word_order="little") for i in (0, 2, 4)]
        own = charger.read_holding_registers(2, count=1).registers[0] / 10.0
    except (ModbusException, AttributeError, OSError):
        break  # the simulated evening is over
    headroom = min(a.fuse - a.margin - (i - own) for i in amps)
    target = max(0.0, min(a.max, headroom))
    target = target if target >= 6.0 else 0.0  # IEC 61851: at least 6 A, else pause
    charger.write_register(0, int(target * 10))
    decisions += 1
    time.sleep(a.period)
print(f"balancer: {decisions} decisions, stopped when the meter went away")
