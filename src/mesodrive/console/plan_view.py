"""Plan: the sessions a crash left open (Resume, `resume_view`), open a plan (an example, or uploaded with its product library), its validation errors
in words, the estimate, the product and its limits, the grid with its zones, and the
pre-treatment checklist that must be complete before Start (and is recorded)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from nicegui import events, run, ui

from mesodrive.console import gridmap
from mesodrive.console.course_view import CourseNotice
from mesodrive.console.operator import NEEDED, page_operator
from mesodrive.console.refusal import ConsoleRefusal
from mesodrive.console.resume_view import ResumePanel
from mesodrive.console.runtime import station
from mesodrive.console.station import Checklist
from mesodrive.console.ui_helpers import attempt
from mesodrive.controller.treatment import PlanFile, TreatmentError, TreatmentService

UPLOAD_LIMIT = 2_000_000  # bytes per file: a plan or library is a few kB


def examples_dir() -> Path | None:
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "examples"
        if (candidate / "products.toml").is_file():
            return candidate
    return None


def plans_in(folder: Path | None) -> dict[str, Path]:
    """The plan files of a folder (product libraries left out), by file name."""
    folder = folder or examples_dir()
    if folder is None:
        return {}
    out: dict[str, Path] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            if "[[products]]" in path.read_text(encoding="utf-8", errors="replace")[:100_000]:
                continue
        except OSError:
            continue
        out[path.name] = path
    return out


def load(path: Path) -> PlanFile:
    """The plan and its library, checked (ConsoleRefusal in words if not)."""
    try:
        return TreatmentService.load_plan(path)
    except TreatmentError as exc:
        text = str(exc) + (f":\n{exc.issues}" if exc.issues is not None else "")
        raise ConsoleRefusal(text) from exc


def _try_load(path: Path) -> PlanFile | str:
    try:
        return load(path)
    except ConsoleRefusal as exc:
        return str(exc)


class PlanView:
    def __init__(self, on_started: Callable[[], None]) -> None:
        self._on_started = on_started
        self._upload_dir = Path(tempfile.mkdtemp(prefix="mesodrive-console-"))
        self._uploaded_plan: Path | None = None
        examples = plans_in(station().config.plans)
        self.resumable = ResumePanel(on_resumed=on_started)
        with ui.row().classes("items-end gap-4"):
            self.pick = ui.select(list(examples), label="Plan",
                                  on_change=self._pick).classes("w-64").mark("plan-select")
            self._examples = examples
            ui.upload(label="…or upload a plan and its product library (TOML)", multiple=True,
                      auto_upload=True, max_file_size=UPLOAD_LIMIT,
                      on_upload=self._uploaded).props('accept=".toml,.csv"').mark("upload")
        self.errors = ui.label("").classes("text-negative whitespace-pre-wrap").mark("plan-errors")
        with ui.row().classes("w-full no-wrap items-start gap-6"):
            self.grid = ui.html("", sanitize=False).classes("w-1/2").mark("plan-grid")
            with ui.column().classes("w-1/2"):
                self.summary = ui.markdown("").mark("plan-summary")
                self.checklist = ui.column().mark("checklist")
        self._boxes: dict[str, ui.checkbox] = {}
        self._course: CourseNotice | None = None  # too early in the course: the reason
        self.start = ui.button("Start treatment", on_click=self._start) \
            .props("color=green-9 size=lg push icon=play_arrow").mark("start")
        self.start.disable()
        self._show(station().plan)

    # ----- opening ----------------------------------------------------------------------------
    async def _pick(self, e: events.ValueChangeEventArguments[object]) -> None:
        path = self._examples.get(str(e.value))
        if path is not None:
            await self._open(path)

    async def _uploaded(self, e: events.UploadEventArguments) -> None:
        name = Path(e.file.name).name  # never a path from the browser
        if not name or name.startswith(".") or not name.endswith((".toml", ".csv")):
            ui.notify(f"{e.file.name!r}: only .toml plans and libraries (and .csv point lists)",
                      type="warning")
            return
        target = self._upload_dir / name
        await e.file.save(target)
        if not name.endswith(".toml") or b"[[products]]" in target.read_bytes():
            # a library or a point list: the plan uploaded with it (in any order) opens now
            if self._uploaded_plan is not None:
                await self._open(self._uploaded_plan)
            return
        self._uploaded_plan = target
        await self._open(target)

    async def _open(self, path: Path) -> None:
        s = station()
        plan = await run.io_bound(lambda: _try_load(path))
        if isinstance(plan, str):
            self.errors.set_text(plan)
            return
        if s.live:
            ui.notify("a treatment is running: the new plan is ready for the next one")
        s.plan = plan
        self._show(plan)

    # ----- showing ----------------------------------------------------------------------------
    def _show(self, plan: PlanFile | None) -> None:
        self.errors.set_text("")
        if plan is None:
            self.summary.set_content("Open a plan to see its grid, product and estimate.")
            return
        v, p = plan.checked, plan.checked.product
        self.grid.set_content(gridmap.render(v.points, area=plan.plan.area, zones=plan.plan.zones,
                                             spacing_mm=plan.plan.spacing_mm))
        est = v.estimate
        zones = ", ".join(z.name for z in plan.plan.zones) or "none"
        lim = [("depth", "mm", p.depth_mm), ("volume per point", "µL", p.volume_ul),
               ("flow", "µL/s", p.flow_ul_s), ("needle speed", "mm/s", p.speed_mm_s)]
        rows = "\n".join(f"| {n} | {_lim(x, 'hard_min')}–{_lim(x, 'hard_max')} {u} | "
                         f"{_lim(x, 'soft_min')}–{_lim(x, 'soft_max')} {u} |" for n, u, x in lim)
        overrides = "".join(f"\n- override: {o.field} = {o.value} beyond {o.limit} — {o.reason}"
                            for o in v.overrides)
        self.summary.set_content(
            f"**{plan.path.name}** · patient `{plan.plan.patient_ref}` · {v.mode} mode"
            + (f" at {v.cadence_hz} Hz" if v.cadence_hz else "") + "\n\n"
            f"**{len(v.points)} points** · {est.total_volume_ul / 1000:.2f} mL · "
            f"about {est.duration_s / 60:.1f} min · {est.refills} refill(s) · zones: {zones}"
            f"{overrides}\n\n"
            f"**Product:** {p.name} (`{p.id}`, {p.indication})\n\n"
            f"| limit | hard | soft |\n|---|---|---|\n{rows}")
        self._build_checklist(plan)

    def _build_checklist(self, plan: PlanFile) -> None:
        self.checklist.clear()
        self._boxes = {}
        with self.checklist:
            ui.label("Before starting").classes("text-h6")
            ui.label("The patient has none of:").classes("text-subtitle2")
            for q in station().screening_questions():
                self._boxes[q] = ui.checkbox(q, on_change=self._check).mark("screening")
            product = plan.checked.product
            self._boxes["product"] = ui.checkbox(
                f"Product in the syringe is {product.name} ({product.id})",
                on_change=self._check).mark("product-confirmed")
            self._boxes["primed"] = ui.checkbox("Syringe primed, no air in the line",
                                                on_change=self._check).mark("primed")
            self._course = CourseNotice(plan)
        self._check()

    def _check(self) -> None:
        ready = bool(self._boxes) and all(b.value for b in self._boxes.values())
        self.start.set_enabled(ready)

    def checklist_value(self) -> Checklist:
        questions = station().screening_questions()
        return Checklist(tuple(q for q in questions if q in self._boxes and self._boxes[q].value),
                         bool(self._boxes.get("product") and self._boxes["product"].value),
                         bool(self._boxes.get("primed") and self._boxes["primed"].value),
                         self._course.reason if self._course is not None else "")

    async def _start(self) -> None:
        s = station()
        checklist = self.checklist_value()
        owner, operator = ui.context.client.id, page_operator()
        if operator is None:
            ui.notify(NEEDED, type="warning", position="top")
            return
        started = await attempt(lambda: s.start(checklist, owner, operator))
        if started is not None:
            for box in self._boxes.values():
                box.set_value(False)  # the next patient is screened afresh
            self._on_started()


def _lim(limits: object, name: str) -> str:
    value = getattr(limits, name, None)
    return "—" if value is None else f"{value:g}"
