"""The run engine: a validated plan becomes injections on the device clock, every one recorded.

Sits above the driver, the plan and the records; below the user interfaces.
"""
