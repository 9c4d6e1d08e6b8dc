#!/usr/bin/env python3
"""The pymodbus reference server for `cargo bench --bench modbus`: a Modbus TCP server
holding the Smart Connect's EMPro block (holding registers 0x8000-0x803F, shared with the
input registers as on the device) with the register words the benchmark gives it, so that
pymodbus answers the very same bytes as the simulator.

usage: pymodbus_server.py PORT WORDS
    PORT   TCP port on 127.0.0.1 (the benchmark picks a free one)
    WORDS  64 comma-separated hexadecimal register words for 0x8000..0x803F

Prints "ready" on stdout (flushed) once the socket listens, then serves until killed.
It is `StartAsyncTcpServer` unrolled: that function is `ModbusTcpServer(context,
**kwargs).serve_forever()`, and `serve_forever(background=True)` returns once listening,
which is the moment to say "ready". Uses the SimDevice/SimData datastore of pymodbus 3.16
(ModbusDeviceContext and ModbusSequentialDataBlock are deprecated and log a warning).
"""
import asyncio
import logging
import sys

import pymodbus
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

BASE = 0x8000
COUNT = 64


async def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    port = int(sys.argv[1])
    words = [int(w, 16) for w in sys.argv[2].split(",")]
    if len(words) != COUNT or not all(0 <= w <= 0xFFFF for w in words):
        sys.exit(f"need {COUNT} register words, got {len(words)}")
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    # id=0: answer every unit id, as the device does (MB-03). One shared block: FC 3 and
    # FC 4 read the same registers (MB-04); addresses outside it get exception 0x02.
    device = SimDevice(id=0, simdata=[SimData(BASE, values=words, datatype=DataType.REGISTERS)])
    server = ModbusTcpServer(device, address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    print(f"ready (pymodbus {pymodbus.__version__}, python {sys.version.split()[0]})", flush=True)
    await server.serving


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
