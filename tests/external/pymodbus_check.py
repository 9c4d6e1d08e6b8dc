#!/usr/bin/env python3
"""Read the virtual Smart Connect's registers with pymodbus (a client no one here wrote),
decode the CD-AB floats and compare with what the device should show for the capture it
was fed (the last line of `smart-connect-sim replay`). Exit 0 when every value matches.

usage: pymodbus_check.py HOST PORT EXPECTED.json
"""
import json
import struct
import sys
import time

from pymodbus.client import ModbusTcpClient

REGISTERS = {  # EMPro map (MB-05)
    "voltage_l1_v": 0x8006, "voltage_l2_v": 0x8008, "voltage_l3_v": 0x800A,
    "current_l1_a": 0x800E, "current_l2_a": 0x8010, "current_l3_a": 0x8012,
    "active_power_w": 0x8016,
    "active_power_l1_w": 0x801E, "active_power_l2_w": 0x8020, "active_power_l3_w": 0x8022,
}


def cdab(words):
    """Float32 from two registers, low word first (MB-06)."""
    return struct.unpack(">f", struct.pack(">HH", words[1], words[0]))[0]


def main():
    host, port, expected_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    expected = json.load(open(expected_path))
    client = ModbusTcpClient(host, port=port, timeout=5)
    deadline = time.time() + 30
    while not client.connect():
        if time.time() > deadline:
            sys.exit(f"cannot connect to {host}:{port}")
        time.sleep(0.2)
    # One block read like OpenEMS (57 registers from 0x8006), then each value on its own,
    # with function code 3 and 4 (MB-04), unit id 7 (MB-03).
    block = client.read_holding_registers(0x8006, count=57, device_id=7)
    if block.isError():
        sys.exit(f"block read failed: {block}")
    failures = 0
    for key, addr in REGISTERS.items():
        want = expected[key]
        from_block = cdab(block.registers[addr - 0x8006: addr - 0x8006 + 2])
        single = client.read_input_registers(addr, count=2, device_id=1)
        if single.isError():
            sys.exit(f"read of 0x{addr:04X} failed: {single}")
        got = cdab(single.registers)
        ok = abs(got - want) < 1e-3 and abs(from_block - want) < 1e-3
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} 0x{addr:04X} {key:18} expected {want:10.3f} got {got:10.3f} (block {from_block:10.3f})")
    bad = client.read_holding_registers(0x8040, count=1, device_id=1)
    if not bad.isError() or bad.exception_code != 2:
        print(f"FAIL 0x8040 should be exception 0x02, got {bad}")
        failures += 1
    else:
        print("ok   0x8040 out of the map -> exception 0x02")
    client.close()
    print(f"pymodbus {__import__('pymodbus').__version__}: {len(REGISTERS) + 1 - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
