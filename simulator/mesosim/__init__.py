"""mesosim: the simulated mesodrive injector — firmware in Python, speaking PROTOCOL.md.

It imports nothing of `mesodrive` above `mesodrive.protocol`.
"""
