#!/usr/bin/env python3
"""Client for the fake Smart Connect's control port (the lab bench's relay board).

    fake_ctl.py --control 127.0.0.1:PORT fresh|info

Sends one JSON line, prints the JSON answer on stdout; exit 0 when the answer has
"ok": true, otherwise a message on stderr and exit 1 (2 for usage errors).
"""
from __future__ import annotations

import argparse
import json
import socket
import sys


def request(host: str, port: int, cmd: str, timeout: float = 5.0) -> dict:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


def main() -> int:
    ap = argparse.ArgumentParser(description="control the fake Smart Connect")
    ap.add_argument("--control", required=True, help="HOST:PORT of the control port")
    ap.add_argument("cmd", choices=["fresh", "info"])
    args = ap.parse_args()
    host, _, port = args.control.rpartition(":")
    try:
        answer = request(host or "127.0.0.1", int(port), args.cmd)
    except (OSError, ValueError) as exc:
        print(f"fake_ctl: {args.cmd} failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer))
    if answer.get("ok") is not True:
        print(f"fake_ctl: device answered {answer}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
