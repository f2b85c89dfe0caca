"""pyserial URL handler for `sim://` — the simulated injector as a serial port.

    import mesosim.transports   # registers "mesosim" in serial.protocol_handler_packages
    port = serial.serial_for_url("sim://?seed=1&realtime=1", timeout=0.5)

pyserial looks for `<package>.protocol_<scheme>` in `serial.protocol_handler_packages`, so
the `mesosim` package must be listed there before `serial_for_url` is called; importing
`mesosim.transports` (or calling `mesosim.transports.register_url_handler()`) does that.
(`serial.Serial("sim://…")` does not consult URL handlers; use `serial_for_url`.)

mesodrive finds this class without that step: `Serial` below is declared in pyproject.toml as
the entry point `sim` of the group `mesodrive.transports`, and mesodrive's serial transport
opens a `sim://` URL with it directly (`Injector.connect("sim://?seed=1")` needs no import of
mesosim). Keep the class name and module path in step with that entry point.

The query string is a `SimConfig` query (`mesosim.config.SimConfig.from_query`): `seed`,
`realtime`, `faults`, `link`, … The port runs in real time unless the URL says `realtime=0`
(SimConfig's own default is warp, which suits caller-stepped runners, not a serial client);
then simulated time advances only while the host waits in `read` (see
`mesosim.transports.port.WarpPort`) — only for hosts that wait by reading, nothing else. Baud rate, parity and the
modem lines are accepted and ignored, as on a USB CDC-ACM link. Closing the port stops the
simulated device.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from serial.serialutil import PortNotOpenError, SerialBase, SerialException, to_bytes

from mesosim.transports.device import ByteDevice
from mesosim.transports.port import SimPort, open_pipe

SCHEME = "sim"


def parse_url(url: str) -> tuple[Any, bool]:
    """The SimConfig a `sim://` URL asks for, and whether to run in real time (the default;
    only an explicit `realtime=0` in the URL gives warp time). SerialException names the
    problem."""
    from mesosim.config import SimConfig

    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != SCHEME:
        raise SerialException(f"expected a sim:// URL, got {url!r}")
    if parts.netloc or parts.path.strip("/"):
        raise SerialException(f"sim:// takes only a query string (sim://?seed=1&...), got {url!r}")
    try:
        config = SimConfig.from_query(parts.query)
    except ValueError as exc:
        raise SerialException(f"bad sim:// URL {url!r}: {exc}") from exc
    explicit = any(k == "realtime" for k, _ in urllib.parse.parse_qsl(parts.query))
    return config, (bool(config.realtime) if explicit else True)


class Serial(SerialBase):  # type: ignore[misc]  # pyserial is untyped
    """A pyserial port whose far end is a simulated mesodrive injector."""

    is_open: bool  # set by SerialBase

    BAUDRATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sim: SimPort | None = None
        self.sim_config: Any = None
        self._shot_log: Any = None  # ShotLogWriter when the URL asks for shot_log=PATH
        super().__init__(*args, **kwargs)

    # -- open / close ------------------------------------------------------------------------

    def open(self) -> None:
        if self.is_open:
            raise SerialException("Port is already open.")
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        self.sim_config, realtime = parse_url(self._port)
        if self.sim_config.shot_log:
            from mesosim.transports.shotlog import ShotLogWriter

            try:
                self._shot_log = ShotLogWriter(self.sim_config.shot_log)
            except OSError as exc:
                raise SerialException(f"sim:// shot_log {self.sim_config.shot_log!r}: "
                                      f"{exc.strerror or exc}") from None
        try:
            self.sim = open_pipe(self.sim_config, realtime=realtime, after_step=self._shot_log)
        except OSError as exc:  # e.g. the nvm file cannot be opened
            raise SerialException(f"sim:// could not start: {exc}") from None
        self.is_open = True

    def close(self) -> None:
        if self.sim is not None:
            self.sim.close()
            self.sim = None
        if self._shot_log is not None:
            self._shot_log.close()
            self._shot_log = None
        # Like pyserial's own posix port, not io.RawIOBase.close: the port can be reopened.
        self.is_open = False

    def from_url(self, url: str) -> Any:
        return parse_url(url)

    def _reconfigure_port(self, *args: Any, **kwargs: Any) -> None:
        """Line settings mean nothing to the simulator."""

    def _port_or_raise(self) -> SimPort:
        if not self.is_open or self.sim is None:
            raise PortNotOpenError()
        return self.sim

    # -- data --------------------------------------------------------------------------------

    @property
    def in_waiting(self) -> int:
        return self._port_or_raise().in_waiting

    def read(self, size: int = 1) -> bytes:
        """pyserial semantics: wait until `size` bytes or the timeout (None: for ever).

        The timeout runs on the port's clock: wall time, or simulated time in warp mode."""
        sim = self._port_or_raise()
        deadline = None if self._timeout is None else sim.clock() + self._timeout
        out = bytearray()
        while len(out) < size:
            left = None if deadline is None else max(0.0, deadline - sim.clock())
            chunk = sim.read(size - len(out), left)
            if not chunk:
                # Timed out, cancelled, or a warp device with nothing left to do.
                break
            out += chunk
        return bytes(out)

    def write(self, data: Any) -> int:
        sim = self._port_or_raise()
        return sim.write(to_bytes(data))

    def flush(self) -> None:
        self._port_or_raise()

    def reset_input_buffer(self) -> None:
        self._port_or_raise().reset_input()

    def reset_output_buffer(self) -> None:
        self._port_or_raise()

    def cancel_read(self) -> None:
        if self.sim is not None:
            self.sim.cancel_read()

    def cancel_write(self) -> None:
        pass

    @property
    def out_waiting(self) -> int:
        return 0

    # -- access to the simulated device (for tests) ------------------------------------------

    def sim_call(self, fn: Any) -> Any:
        """Run `fn(device)` on the simulated device's thread (e.g. press the trigger)."""
        return self._port_or_raise().call(fn)

    @property
    def sim_device(self) -> ByteDevice:
        return self._port_or_raise().device

    # -- modem lines: accepted, ignored ------------------------------------------------------

    def _update_break_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    @property
    def cts(self) -> bool:
        self._port_or_raise()
        return True

    @property
    def dsr(self) -> bool:
        self._port_or_raise()
        return True

    @property
    def ri(self) -> bool:
        self._port_or_raise()
        return False

    @property
    def cd(self) -> bool:
        self._port_or_raise()
        return True
