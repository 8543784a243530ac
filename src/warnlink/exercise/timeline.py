"""The live timeline in the terminal: what each party learnt, when, and the scenario clock.

On a terminal the events scroll above a progress bar of scenario time; elsewhere (CI, a
pipe) the same events are printed as plain lines with a progress line every tenth.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from warnlink.exercise.plan import TimelineEvent

STYLE = {
    "confirmed": "cyan",
    "own-impact": "cyan",
    "report": "magenta",
    "fused-track": "bold yellow",
    "fused-impact": "bold red",
    "link": "dim",
    "held": "bold magenta",
    "alert": "bold white on red",
    "consult": "bold blue",
    "done": "dim",
}


def stamp(t: float, t_launch: float) -> str:
    """Scenario time as T±mm:ss from the first launch, as operators count."""
    tenths = round(10 * (t - t_launch))
    sign = "+" if tenths >= 0 else "-"
    m, s = divmod(abs(tenths), 600)
    return f"T{sign}{m:02d}:{s / 10:04.1f}"


class Timeline:
    def __init__(self, console: Console, title: str, t_launch: float, t_end: float) -> None:
        self.console = console
        self.title = title
        self.t_launch = t_launch
        self.t_end = t_end
        self.events: list[TimelineEvent] = []
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._tenth = -1

    def __enter__(self) -> Timeline:
        self.console.rule(self.title)
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[clock]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("scenario", total=self.t_end, clock="")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(kind, exc, tb)

    def event(self, ev: TimelineEvent) -> None:
        self.events.append(ev)
        if ev.kind == "done":
            return
        style = STYLE.get(ev.kind, "")
        text = f"[{style}]{escape(ev.text)}[/{style}]" if style else escape(ev.text)
        when = stamp(ev.t, self.t_launch)
        self.console.print(f"{when}  [bold]{ev.party:<3}[/bold] {text}", highlight=False)

    def tick(self, t: float) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=t, clock=stamp(t, self.t_launch))
            return
        tenth = int(10 * t / self.t_end) if self.t_end > 0 else 10
        if tenth > self._tenth:
            self._tenth = tenth
            self.console.print(
                f"{stamp(t, self.t_launch)}  [dim]scenario {10 * tenth}% done[/dim]",
                highlight=False,
            )
