"""Shot scheduling: which pending point goes to the device next, and when it fires.

Auto mode queues shots on the *device* clock a bounded time ahead (the look-ahead), at the
plan's cadence, so host jitter never delays an injection and a late one is refused by the
device, never made late. When the look-ahead runs dry the cadence slips (an underrun): a shot
always fires at least `min_lead_s` after "now". Triggered mode keeps the next shots preloaded
so a pedal press fires without the host. Neither passes a point whose planned refill has not
been done: the engine turns that into a refill question.

Every send is journalled durably by the driver before it goes on the wire (via the engine's
journal, which needs the index's point: the book is told first).
"""

from __future__ import annotations

from mesodrive.controller.point_book import PointBook
from mesodrive.controller.run_config import RunConfig
from mesodrive.controller.run_result import ScheduleStats
from mesodrive.driver.errors import DriverError, ShotBlocked, ShotTooLate
from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import ShotRequest
from mesodrive.driver.vocabulary import DeviceState
from mesodrive.plan import PlannedPoint, ValidatedPlan, check_point


class ShotScheduler:
    def __init__(self, inj: Injector, plan: ValidatedPlan, book: PointBook, stats: ScheduleStats,
                 config: RunConfig, first_index: int) -> None:
        self.inj, self.plan, self.book, self.stats, self.config = inj, plan, book, stats, config
        self._points: dict[int, PlannedPoint] = {p.point: p for p in plan.points}
        self._refill_before = frozenset(plan.refill_before)  # O(1) per shot, however many
        self.refilled: set[int] = set()  # points before which the syringe has been refilled
        cadence = plan.cadence_hz or plan.estimate.achievable_cadence_hz
        self.period_s = 1.0 / cadence
        self.look_ahead_s, self.min_lead_s = _room(config, self.period_s, inj.timebase.speed,
                                                   inj.capabilities.queue_len,
                                                   inj.capabilities.horizon_s)
        self._next_index = first_index
        self._last_fire: float | None = None  # device-clock seconds

    def restart(self) -> None:
        """A new schedule starts (armed afresh, resumed): its first shot is not an underrun."""
        self._last_fire = None

    def refill_due(self, point: int | None) -> bool:
        return point is not None and point in self._refill_before and point not in self.refilled

    def schedule(self) -> None:
        if self.plan.mode == "auto":
            self._schedule_auto()
        else:
            self._schedule_triggered()

    def _schedule_auto(self) -> None:
        now = self.inj.device_now()
        lead = self.min_lead_s
        horizon = now + self.look_ahead_s
        queue_len = self.inj.capabilities.queue_len
        while len(self.book.in_flight) < queue_len - 1:
            point = self.book.next_point()
            if point is None or self.refill_due(point):
                return
            if self._last_fire is None:
                fire = now + lead
            else:
                fire = self._last_fire + self.period_s
                if fire < now + lead:  # the look-ahead ran dry: the cadence slips, never late
                    self.stats.underruns += 1
                    fire = now + lead
            if fire > horizon:
                return
            if not self._send(point, fire, now, first=self._last_fire is None):
                return  # not sent: the next step schedules afresh from a new "now"
            self._last_fire = fire

    def _schedule_triggered(self) -> None:
        while len(self.book.in_flight) < self.config.preload:
            point = self.book.next_point()
            if point is None or self.refill_due(point):
                return
            if not self._send(point, None, None, first=False):
                return

    def _send(self, point: int, fire: float | None, now: float | None, *, first: bool) -> bool:
        """Journal and send one shot for `point`; False if it was not sent (point stays pending)."""
        p = self._points[point]
        issues = check_point(self.plan.product, self.plan.device, p, self.plan.overrides)
        if issues:  # validated plans never get here: a failure means something is badly wrong
            raise DriverError(f"point {point} failed the pre-shot check: {issues}")
        index = self._next_index
        self._next_index += 1
        self.book.reserve(index, point)
        req = ShotRequest(index=index, depth_mm=p.depth_mm, volume_ul=p.volume_ul,
                          flow_ul_s=p.flow_ul_s, speed_mm_s=p.speed_mm_s, dwell_s=p.dwell_s,
                          fire_at=fire)
        try:
            shot = self.inj.queue_shot(req)  # journals (durably) before sending
        except ShotTooLate:
            # Recording it took too long (a slow disk): never sent. The cadence slips.
            self.book.unreserve(index)
            self.stats.underruns += 1
            self._last_fire = None
            return False
        except ShotBlocked:
            if self.inj.state in (DeviceState.ARMED, DeviceState.FIRING) and not self.inj.link_lost:
                raise  # refused for a reason of our own making: a bug, never retried
            # The device left the session (fault, dead-man, reboot) just now: the point stays
            # pending and the next step handles the device's state.
            self.book.unreserve(index)
            return False
        self.book.sent(index, point, shot.session)
        self.stats.shots_sent += 1
        if fire is not None and now is not None:
            self.stats.note_slack(fire - now, first=first)
        return True


def _room(config: RunConfig, period_s: float, speed: float, queue_len: int,
          horizon_s: float) -> tuple[float, float]:
    """The look-ahead and the minimum lead in device seconds. Both are room for what takes wall
    time: a host stall, a durable write (~100 ms on a busy disk has been seen). Time-warped at
    K×, device time runs K× faster, so the same room is K× the device time, as far as the
    device takes it: its queue, and 80 % of its horizon (the rest for clock error and the link);
    the lead at most half the look-ahead. In real time: as configured."""
    if speed <= 1.0:
        return config.look_ahead_s, config.min_lead_s
    room = min(config.look_ahead_s * speed, 0.9 * (queue_len - 1) * period_s, 0.8 * horizon_s)
    look_ahead = max(config.look_ahead_s, room)
    lead = max(config.min_lead_s, min(config.min_lead_s * speed, look_ahead / 2))
    return look_ahead, lead
