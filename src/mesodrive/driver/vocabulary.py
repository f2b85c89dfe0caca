"""The device's vocabulary, for code above the driver: states, faults, shot flags, reject
reasons. Re-exported from the protocol so that nothing above the driver imports
`mesodrive.protocol` (an import-linter contract)."""

from mesodrive.protocol.messages import DeviceState, Fault, RejectReason, ShotFlag

__all__ = ["DeviceState", "Fault", "RejectReason", "ShotFlag"]
