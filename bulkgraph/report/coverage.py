"""What a snapshot knows of a label: all of it, part of it, or nothing.

`Snapshot.unknown_labels` names `Label/account/region` (`*`: every one) whose nodes the
snapshot does not know (bulkgraph/transform/unknown.py). The report draws a count there as
unknown (a gap) or as a lower bound (a hollow marker), never as zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

ANY = "*"


class Known(StrEnum):
    all = "known"
    part = "partial"  # some accounts or regions unknown: a count is a lower bound
    none = "unknown"  # nothing known: no count at all


def covers(unknown_labels: Iterable[str], label: str, account: str, region: str) -> bool:
    """Whether the entries make `label` unknown in (account, region): the rule of the
    pack's snapshot-diff query (`Label/*/*`, `Label/acct/*`, `Label/*/region`, exact)."""
    wanted = {
        f"{label}/{ANY}/{ANY}",
        f"{label}/{account}/{ANY}",
        f"{label}/{ANY}/{region}",
        f"{label}/{account}/{region}",
    }
    return any(u in wanted for u in unknown_labels)


@dataclass(frozen=True)
class SnapshotScope:
    """One snapshot's unknown labels and the (account, region) pairs it covers."""

    snapshot_id: str
    unknown_labels: tuple[str, ...] = ()
    regions: tuple[tuple[str, str], ...] = ()

    def known(self, labels: Iterable[str]) -> Known:
        """How much the snapshot knows of the labels together: the least of each."""
        states = [self._known(label) for label in labels]
        if Known.none in states:
            return Known.none
        return Known.part if Known.part in states else Known.all

    def missing(self, labels: Iterable[str]) -> list[str]:
        """The unknown entries that concern the labels (what a note names)."""
        wanted = set(labels)
        return [u for u in self.unknown_labels if u.split("/", 1)[0] in wanted]

    def _known(self, label: str) -> Known:
        mine = self.missing([label])
        if not mine:
            return Known.all
        if f"{label}/{ANY}/{ANY}" in mine:
            return Known.none
        # unknown in every region the snapshot covers is unknown as a whole
        if self.regions and all(covers(mine, label, a, r) for a, r in self.regions):
            return Known.none
        return Known.part
