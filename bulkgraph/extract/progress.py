"""How a collection is getting on: on a terminal, a bar for the whole run and one for each
account being collected (its regions done, the last one finished); everywhere, one log line
per account when its last region is done (what a cron log keeps)."""

from __future__ import annotations

from typing import Any

from bulkgraph.console import err, log


class CollectProgress:
    """`jobs`: account id -> the (account, region) jobs it has in this run."""

    def __init__(self, enabled: bool, jobs: dict[str, int]) -> None:
        self.enabled = enabled
        self.jobs = {a: n for a, n in jobs.items() if n}
        self.done: dict[str, int] = dict.fromkeys(self.jobs, 0)
        self.errors: dict[str, int] = dict.fromkeys(self.jobs, 0)
        self._progress: Any = None
        self._total: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> CollectProgress:
        if self.enabled and self.jobs:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=err,
                transient=True,
            )
            self._progress.start()
            self._total = self._progress.add_task(
                f"{len(self.jobs)} account(s)", total=sum(self.jobs.values())
            )
        return self

    def finished(self, account: str, region: str, errors: int) -> None:
        """One region (or an account's global operations) of `account` is done."""
        self.done[account] = self.done.get(account, 0) + 1
        self.errors[account] = self.errors.get(account, 0) + errors
        left = self.jobs.get(account, 0) - self.done[account]
        if self._progress is not None:
            self._progress.update(self._total, advance=1)
            task = self._tasks.get(account)
            if task is None and left > 0:  # a bar only while the account is being collected
                task = self._tasks[account] = self._progress.add_task(
                    account, total=self.jobs[account]
                )
            if task is not None:
                self._progress.update(
                    task, completed=self.done[account], description=f"{account} {region}"
                )
                if left <= 0:
                    self._progress.remove_task(task)
                    del self._tasks[account]
        if left == 0:
            log.info(
                "account %s: %d region job(s) done, %d error(s)",
                account,
                self.done[account],
                self.errors[account],
            )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
