"""The device actions a run takes to start and to recover (disarm, clear, home, prime,
refill, reconnect), one small module each, and `restore` which orders them after a fault.

Each action waits for the state it promises (or raises the driver's error): the run engine
never assumes the device did what it was told.
"""
