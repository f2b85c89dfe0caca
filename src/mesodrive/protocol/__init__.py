"""The wire protocol: frames, messages (generated from messages.toml) and the link layer.

The lowest host layer; it imports nothing else of mesodrive, and the simulator may use it.
"""

from mesodrive.protocol.codec import decode_message, decode_wire, encode_message
from mesodrive.protocol.deframer import Deframer
from mesodrive.protocol.endpoint import Endpoint, Undecodable
from mesodrive.protocol.frame import Frame, FrameError, FrameErrorKind, decode_frame, encode_frame
from mesodrive.protocol.link import Link, LinkConfig, LinkLost
from mesodrive.protocol.message_base import Channel, Message, RangeError

__all__ = [
    "Channel",
    "Deframer",
    "Endpoint",
    "Frame",
    "FrameError",
    "FrameErrorKind",
    "Link",
    "LinkConfig",
    "LinkLost",
    "Message",
    "RangeError",
    "Undecodable",
    "decode_frame",
    "decode_message",
    "decode_wire",
    "encode_frame",
    "encode_message",
]
