"""Every way to reach the simulated injector. The device is a `ByteDevice` (bytes + a simulated
clock in, bytes out); a runner moves its clock; a transport moves its bytes.

| link               | how to open it                                                        |
|--------------------|-----------------------------------------------------------------------|
| in-process pipe    | `open_pipe(config)` -> `SimPort` (`write`, `read(n, timeout)`, ...)   |
| pyserial URL       | `serial.serial_for_url("sim://?seed=1&realtime=1")`                   |
| raw pty            | `mesodrive sim --pty` prints `/dev/pts/N`; `serial.Serial(path)`      |
| TCP                | `mesodrive sim --tcp 127.0.0.1:0` prints `socket://127.0.0.1:PORT`    |
| USB (pyusb)        | `usb.core.find(idVendor=0x1209, backend=mesosim.transports.usb.backend(config))` |

Link faults (`SimConfig.host_to_device` / `device_to_host`) are applied by
`LinkFaultManipulator`, which `build_device` puts in front of the firmware when asked.

Importing this package registers the `sim://` URL scheme with pyserial (it appends
"mesosim" to `serial.protocol_handler_packages`, where pyserial finds
`mesosim.protocol_sim`). `serial_for_url("sim://…")` therefore needs `import
mesosim.transports` first — or an explicit `register_url_handler()`. mesodrive's driver
needs neither: it reaches `mesosim.protocol_sim.Serial` through the `sim` entry point of the
`mesodrive.transports` group declared in pyproject.toml.
"""

from __future__ import annotations

from mesosim.transports.device import ByteDevice, build_device, inner_device
from mesosim.transports.faults import FrameFaults, LinkFaultManipulator, faults_active
from mesosim.transports.port import PortClosed, RealtimePort, SimPort, WarpPort, open_pipe
from mesosim.transports.runner import RealtimeRunner, SimulatorError, WarpRunner

URL_HANDLER_PACKAGE = "mesosim"


def register_url_handler() -> None:
    """Make `serial.serial_for_url("sim://…")` work (idempotent)."""
    import serial

    if URL_HANDLER_PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(URL_HANDLER_PACKAGE)


register_url_handler()

__all__ = [
    "ByteDevice",
    "FrameFaults",
    "LinkFaultManipulator",
    "PortClosed",
    "RealtimePort",
    "RealtimeRunner",
    "SimPort",
    "SimulatorError",
    "WarpPort",
    "WarpRunner",
    "build_device",
    "faults_active",
    "inner_device",
    "open_pipe",
    "register_url_handler",
]
