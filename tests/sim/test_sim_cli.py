"""`mesodrive sim`: option errors in-process; --pty and --tcp as real subprocesses driven by a
plain pyserial client that uses only PROTOCOL.md (link_sync, identify, status_query)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import serial
from mesosim.transports.shotlog import read_shot_log

from mesodrive.cli import main

pytest.importorskip("mesosim.firmware")

from tests.sim.test_transports_e2e import (
    ShotClient,
    check_handshake,
    check_shot_log,
    serial_client,
)

START_TIMEOUT = 30.0


# -- option errors (in-process: they return before anything is served) -----------------------


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--tcp", "10.1.2.3:0"], ["--tcp", "10.1.2.3:0", "loopback"]),
        (["--tcp", "nonsense"], ["--tcp", "nonsense"]),
        (["--tcp", "127.0.0.1:99999"], ["--tcp", "99999"]),
        (["--pty", "--link", "drop:2"], ["--link", "drop:2"]),
        (["--pty", "--link", "lose:0.1"], ["--link", "lose:0.1"]),
        (["--pty", "--faults", "explode@3"], ["--faults", "explode@3"]),
        (["--pty", "--config", "warp=1"], ["--config", "warp=1"]),
        (["--pty", "--seed", "1", "--config", "seed=x"], ["--config", "seed=x"]),
    ],
)
def test_bad_options_exit_2_naming_option_and_value(
    argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sim", *argv]) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err


def test_pty_or_tcp_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sim", "--seed", "1"])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["sim", "--pty", "--tcp", "127.0.0.1:0"])


def test_options_combine_into_one_config() -> None:
    import argparse

    from mesosim.config import SimConfig

    from mesodrive.cli.sim_cmd import build_query

    args = argparse.Namespace(
        config="seed=4&shot_faults=occlusion@2&serial=ABC&realtime=0",
        seed=9,
        faults="stall@3",
        link="drop:0.1",
    )
    config = SimConfig.from_query(build_query(args))
    assert config.seed == 9 and config.serial == "ABC" and config.realtime
    assert config.shot_faults == ((3, "stall"),)
    assert config.host_to_device.drop == config.device_to_host.drop == 0.1


# -- the real thing, in a subprocess ---------------------------------------------------------


@contextmanager
def sim_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`mesodrive sim ARGS` running; yields (process, first stdout line). Always cleaned up."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mesodrive", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
        assert ready, "mesodrive sim printed nothing"
        line = proc.stdout.readline().strip()
        assert line, proc.stderr.read() if proc.stderr else ""
        yield proc, line
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    return proc.wait(15)


@pytest.mark.slow
def test_pty_serves_a_plain_pyserial_client(tmp_path: Path) -> None:
    shot_log = tmp_path / "shots.jsonl"
    with sim_process("--pty", "--seed", "3", "--config", "serial=PTY-3",
                     "--shot-log", str(shot_log)) as (proc, path):  # fmt: skip
        assert os.path.exists(path) and path.startswith("/dev/")
        for _ in range(2):  # close and reopen the port: the server keeps serving
            with serial.Serial(path, 115200, timeout=0.5) as port:
                check_handshake(serial_client(port).handshake(), "PTY-3")
        with serial.Serial(path, 115200, timeout=0.5) as port:
            client = serial_client(port)
            result = ShotClient(client.send, client.recv).fire_one_shot(session=3, index=4)
        assert proc.poll() is None
        assert stop(proc, signal.SIGTERM) == 0
    check_shot_log(read_shot_log(shot_log), result)


@pytest.mark.slow
def test_pty_stops_on_sigint() -> None:
    with sim_process("--pty") as (proc, path):
        with serial.Serial(path, timeout=0.5) as port:
            check_handshake(serial_client(port).handshake(), "SIM-0001")
        assert stop(proc, signal.SIGINT) == 0


@pytest.mark.slow
def test_tcp_serves_a_socket_url_client() -> None:
    with sim_process("--tcp", "127.0.0.1:0", "--config", "serial=TCP-1&seed=2") as (proc, url):
        assert url.startswith("socket://127.0.0.1:")
        assert int(url.rsplit(":", 1)[1]) > 0
        for _ in range(2):  # one client after another
            with serial.serial_for_url(url, timeout=0.5) as port:
                check_handshake(serial_client(port).handshake(), "TCP-1")
        assert stop(proc) == 0


@pytest.mark.slow
def test_tcp_port_in_use_is_a_usage_error() -> None:
    with sim_process("--tcp", "127.0.0.1:0") as (_, url):
        busy = url.rsplit(":", 1)[1]
        t0 = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "mesodrive", "sim", "--tcp", f"127.0.0.1:{busy}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert "--tcp" in result.stderr and busy in result.stderr
        assert time.monotonic() - t0 < 60


def test_sim_prints_a_line_per_shot_unless_quiet() -> None:
    """Issue 14: whoever serves the simulator sees what the device did (a line per shot)."""
    for quiet in (False, True):
        with sim_process("--pty", "--seed", "3", *(["--quiet"] if quiet else [])) as (proc, pty):
            demo = subprocess.run([sys.executable, "-m", "mesodrive", "demo", "--device", pty],
                                  capture_output=True, text=True, timeout=60, check=False)
            assert demo.returncode == 0, demo.stdout + demo.stderr
            proc.terminate()
            _, err = proc.communicate(timeout=10)
        shots = [line for line in err.splitlines() if line.startswith("mesodrive sim: shot ")]
        if quiet:
            assert shots == []
        else:
            assert len(shots) == 3 and all("mm" in s and "µL" in s for s in shots), err


def test_sim_over_tcp_tells_who_connects_and_leaves() -> None:
    with sim_process("--tcp", "127.0.0.1:0", "--seed", "4") as (proc, url):
        demo = subprocess.run([sys.executable, "-m", "mesodrive", "demo", "--device", url],
                              capture_output=True, text=True, timeout=60, check=False)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "client connected from" in err and "client disconnected" in err, err
