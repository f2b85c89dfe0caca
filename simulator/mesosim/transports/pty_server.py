"""The simulated injector behind a raw pseudo-terminal: a real OS serial path.

The device end is the pty master; clients open the slave path (`/dev/pts/N`) like any
serial port (`serial.Serial(path)`, `screen`, `mesodrive --port`). The slave is put in raw
mode (no echo, no line editing, 8-bit clean) and this server keeps its own slave descriptor
open, so the path stays valid and the master never reports EIO while clients close and
reopen the port. Should it happen anyway (EIO: no slave open) the server keeps serving.

Bytes the device sends while nobody reads queue in the pty (pyserial flushes them on open)
and, once its buffer is full, are dropped like a UART overrun, so the simulation never
blocks on a slow or absent client.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from typing import Any, Self

from mesosim.transports.device import ByteDevice
from mesosim.transports.runner import RealtimeRunner

log = logging.getLogger(__name__)

# With no slave open a read of the master fails at once; retry at this pace instead of spinning.
NO_CLIENT_RETRY = 0.02


class PtyServer:
    def __init__(
        self, device: ByteDevice, *, after_step: Callable[[Any], None] | None = None
    ) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.runner = RealtimeRunner(device, self._to_host, after_step=after_step)
        self._stop_r, self._stop_w = os.pipe()
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="mesosim-pty", daemon=True)
        self.dropped = 0  # device->host bytes lost to a full pty buffer
        self.error: BaseException | None = None

    def start(self) -> Self:
        self.runner.start()
        self._thread.start()
        return self

    def _to_host(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                self.dropped += len(view)
                return
            except OSError as exc:
                if exc.errno == errno.EIO:
                    self.dropped += len(view)
                    return
                raise
            view = view[n:]

    def _serve(self) -> None:
        try:
            while not self._stopping:
                ready, _, _ = select.select([self.master, self._stop_r], [], [], 0.5)
                if self._stop_r in ready:
                    break
                if self.master not in ready:
                    continue
                try:
                    data = os.read(self.master, 4096)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    if exc.errno != errno.EIO:
                        raise
                    time.sleep(NO_CLIENT_RETRY)  # no client has the slave open: keep serving
                    continue
                if data:
                    self.runner.write(data)
                else:
                    time.sleep(NO_CLIENT_RETRY)
        except BaseException as exc:
            self.error = exc
            log.exception("pty server failed")

    def check(self) -> None:
        """Raise if the device or the I/O thread has failed."""
        self.runner.check()
        if self.error is not None:
            raise RuntimeError(f"pty server failed: {self.error!r}") from self.error

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and self.runner.running

    def close(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        os.write(self._stop_w, b"x")
        if self._thread.is_alive():
            self._thread.join(2.0)
        self.runner.stop()
        for fd in (self.master, self._slave, self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
