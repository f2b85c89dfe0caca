"""The optional key of a keyed chain (HMAC-SHA256 instead of plain SHA-256).

Why a key: an unkeyed chain shows any edit, but someone with write access to the file can
recompute every hash after an edit. With a key that is *not* in the database (a file on other
media, readable only by the clinic's records account), recomputing the chain needs the key.

The key comes from a file (`--key-file`, or the environment variable below), never from the
database. The database keeps only a key id (a hash of the key) so that a wrong key gives a clear
message instead of "row 1 altered".
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from mesodrive.records.models import KeyRequiredError

KEY_FILE_ENV = "MESODRIVE_RECORDS_KEY_FILE"
MIN_KEY_BYTES = 16  # 128 bits: anything shorter is guessable offline from any row's HMAC


def load_key(path: Path | str) -> bytes:
    """The key bytes in `path` (one trailing newline ignored, so `echo`-made files work)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyRequiredError(f"key file {path}: not found") from None
    except IsADirectoryError:
        raise KeyRequiredError(f"key file {path}: is a folder, not a file") from None
    except OSError as exc:
        raise KeyRequiredError(f"key file {path}: cannot be read ({exc.strerror})") from None
    key = data[:-1] if data.endswith(b"\n") else data
    if len(key) < MIN_KEY_BYTES:
        raise KeyRequiredError(f"key file {path}: holds {len(key)} bytes; a records key needs at "
                               f"least {MIN_KEY_BYTES} (e.g. `head -c 32 /dev/urandom > FILE`)")
    return key


def key_from_env() -> bytes | None:
    """The key named by MESODRIVE_RECORDS_KEY_FILE, or None when it is not set."""
    path = os.environ.get(KEY_FILE_ENV)
    if not path:
        return None
    try:
        return load_key(path)
    except KeyRequiredError as exc:
        raise KeyRequiredError(f"{exc} (from {KEY_FILE_ENV})") from None


def key_id(key: bytes) -> str:
    """A short public name of a key (stored in the database; reveals nothing usable)."""
    return hashlib.sha256(b"mesodrive records key id v1\x00" + key).hexdigest()[:16]
