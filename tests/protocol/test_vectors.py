"""The Python codec against the golden vectors in firmware_protocol/vectors/.

The vectors are built from messages.toml alone (firmware_protocol/make_vectors.py), so these tests
check the generated Python codec independently; tests/protocol/test_c_codec.py checks the C codec against
the same files.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mesodrive.protocol.codec import decode_message, decode_wire, encode_message
from mesodrive.protocol.frame import FrameError, decode_frame
from mesodrive.protocol.message_base import RangeError
from mesodrive.protocol.messages import MESSAGES

ROOT = Path(__file__).resolve().parents[2]
FP = ROOT / "firmware_protocol"
VECTORS = FP / "vectors"
BY_NAME = {cls.NAME: cls for cls in MESSAGES.values()}


def _load_make_vectors() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_vectors", FP / "make_vectors.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def message_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(VECTORS.glob("*.json")):
        if path.name != "malformed.json":
            cases += json.loads(path.read_text(encoding="utf-8"))
    return cases


def malformed_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / "malformed.json").read_text("utf-8"))
    return cases


def _id(case: dict[str, Any]) -> str:
    return f"{case.get('message', 'malformed')}-{case['name']}"


def test_every_message_has_vectors() -> None:
    covered = {c["message"] for c in message_cases()}
    assert covered == set(BY_NAME), "run python firmware_protocol/make_vectors.py"


@pytest.mark.parametrize("case", message_cases(), ids=_id)
def test_vector_decodes_to_its_fields(case: dict[str, Any]) -> None:
    frame = decode_frame(bytes.fromhex(case["frame"]))
    assert (frame.flags, frame.seq, frame.ack) == (case["flags"], case["seq"], case["ack"])
    msg = decode_message(frame)
    assert msg.NAME == case["message"]
    assert msg.as_dict() == case["fields"]
    assert decode_wire(bytes.fromhex(case["frame"])) == (frame.flags, frame.seq, frame.ack, msg)


@pytest.mark.parametrize("case", message_cases(), ids=_id)
def test_vector_fields_encode_to_its_frame(case: dict[str, Any]) -> None:
    msg = BY_NAME[case["message"]](**case["fields"])
    wire = bytes.fromhex(case["frame"])
    if case["in_range"]:
        assert encode_message(msg, case["seq"], case["ack"]) == wire
    else:
        # The host refuses to send it, but must produce exactly these bytes when told not to
        # check (a test double standing in for a misbehaving peer does exactly that).
        with pytest.raises(RangeError):
            encode_message(msg, case["seq"], case["ack"])
        assert encode_message(msg, case["seq"], case["ack"], check=False) == wire


@pytest.mark.parametrize("case", malformed_cases(), ids=_id)
def test_malformed_vector_is_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(FrameError) as info:
        decode_message(decode_frame(bytes.fromhex(case["frame"])))
    assert info.value.kind.value == case["error"]
    with pytest.raises(FrameError) as info:
        decode_wire(bytes.fromhex(case["frame"]))  # the fused path: the same verdict
    assert info.value.kind.value == case["error"]


def test_malformed_covers_every_error_kind() -> None:
    from mesodrive.protocol.frame import FrameErrorKind

    assert {c["error"] for c in malformed_cases()} == {k.value for k in FrameErrorKind}


def test_vectors_are_not_stale() -> None:
    bad = _load_make_vectors().stale()
    assert not bad, f"stale vectors {bad}: run python firmware_protocol/make_vectors.py"


def test_generated_files_are_not_stale() -> None:
    # A subprocess, because generate.py imports firmware_protocol modules by bare name.
    result = subprocess.run(
        [sys.executable, str(FP / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + "run python firmware_protocol/generate.py"
