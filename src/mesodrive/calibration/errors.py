"""Typed errors of the calibration layer. Every failure a technician can meet has its own
class, so the CLI (and later the console) can say exactly what is wrong and what to do."""

from __future__ import annotations


class CalibrationError(Exception):
    """Base of everything the calibration layer raises on purpose."""


# ----- balance (MT-SICS) ------------------------------------------------------------------------
class BalanceError(CalibrationError):
    """The balance could not do what was asked."""


class BalanceLinkError(BalanceError):
    """The serial link itself failed (port missing, busy, closed, I/O error)."""


class BalanceTimeout(BalanceError):
    """The balance did not answer in time: cable, port, power, or the wrong baud rate."""


class BalanceGarbled(BalanceError):
    """The balance answered with bytes that are not MT-SICS (typically a wrong baud rate)."""


class BalanceCommandError(BalanceError):
    """`ES` / `ET` / `EL` (or a command-specific `L`): the balance refused the command."""

    def __init__(self, code: str, command: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.command = command


class BalanceSyntaxError(BalanceCommandError):
    """`ES`: the balance does not know the command."""


class BalanceTransmissionError(BalanceCommandError):
    """`ET`: the balance received a damaged line (parity, overrun, baud rate)."""


class BalanceLogicalError(BalanceCommandError):
    """`EL` or `<id> L`: the command is known but cannot be executed with these parameters."""


class BalanceOverload(BalanceError):
    """`+`: the load is above the weighing range."""


class BalanceUnderload(BalanceError):
    """`-`: the load is below the weighing range (pan missing or lifted)."""


class BalanceBusy(BalanceError):
    """`I` still after the bounded retries: busy, or never stable within its own timeout."""


class BalanceUnstable(BalanceBusy):
    """A stable weight was asked for and the reading never settled (draught, vibration)."""


class UnsupportedUnit(BalanceError):
    """The balance shows a unit we do not convert (set it to g or mg)."""


# ----- measurements and math ----------------------------------------------------------------------
class CalibrationInputError(CalibrationError, ValueError):
    """A measurement or an environment value cannot be used."""


class MissingEnvironmentValue(CalibrationInputError):
    """A required environment value (temperature, pressure, humidity) was not given."""


class OutOfRangeValue(CalibrationInputError):
    """A value lies outside the range the method is valid for (e.g. water at 31 °C)."""


class TemperatureDrift(CalibrationError):
    """The water's temperature changed more during the test than ISO 8655-6 allows (±0.5 °C):
    Z and the evaporation were not what the evaluation assumed, so the results are void."""


class FitError(CalibrationError):
    """The measurements do not give a usable calibration profile."""


class LimitsError(CalibrationError):
    """The acceptance limits file is missing, malformed, or has no limit for a test point."""


# ----- depth gauge --------------------------------------------------------------------------------
class GaugeError(CalibrationError):
    """The depth gauge could not do what was asked."""


class GaugeLinkError(GaugeError):
    """The gauge's serial link failed (port missing, busy, closed, I/O error)."""


class GaugeTimeout(GaugeError):
    """The gauge did not answer in time."""


class GaugeGarbled(GaugeError):
    """The gauge answered with something that is not one of its replies."""


class GaugeRefused(GaugeError):
    """`ERR CMD` / `ERR PARAM` / `ERR LINE`: the gauge refused the command."""


class GaugeOutOfRange(GaugeError):
    """`ERR RANGE`: the spindle is outside the gauge's measuring range."""


# ----- guided runs -------------------------------------------------------------------------------
class RunError(CalibrationError):
    """A guided calibration run could not continue (a shot failed, the device went away)."""


class InjectorUnavailable(RunError):
    """The injector cannot be reached or refused the connection."""


class InjectorFaulted(RunError):
    """The injector has a latched fault (or e-stop) and refuses to move until it is cleared."""
