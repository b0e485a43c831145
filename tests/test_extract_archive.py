"""Tar archives: a good one reads like its folder; escaping members are refused."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from test_extract_native import make_snapshot

from bulkgraph.errors import InputError
from bulkgraph.extract import archive
from bulkgraph.extract.sources import discover


def test_packed_snapshot_reads_back(tmp_path: Path) -> None:
    folder = make_snapshot(tmp_path / "out", "packed-1")
    tar = archive.pack(folder, tmp_path / "packed-1.tar.gz")
    with tarfile.open(tar) as t:
        names = t.getnames()
    assert names[0] == "packed-1"
    assert "packed-1/manifest.json" in names
    result = discover([str(tar)], cache_dir=tmp_path / "cache")
    assert result.problems == []
    (snap,) = result.snapshots
    assert snap.info.snapshot_id == "packed-1"
    assert snap.info.location.startswith(str(tar))
    assert {r.operation for r in snap.responses()} == {"ec2:DescribeVpcs", "ec2:DescribeSubnets"}
    # packing is deterministic: same folder, same bytes
    again = archive.pack(folder, tmp_path / "again.tar.gz")
    assert again.read_bytes() == tar.read_bytes()
    # a second discover re-uses the extraction
    assert len(list((tmp_path / "cache" / "extracted").iterdir())) == 1
    discover([str(tar)], cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache" / "extracted").iterdir())) == 1


def _evil_tar(path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as t:
        top = tarfile.TarInfo("snap")
        top.type = tarfile.DIRTYPE
        t.addfile(top)
        if member.isfile():
            member.size = len(data)
            t.addfile(member, io.BytesIO(data))
        else:
            t.addfile(member)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (_member("snap/../../escaped.txt"), "path leaves the archive folder"),
        (_member("/tmp/absolute.txt"), "path leaves the archive folder"),
        (_member("snap/link", tarfile.SYMTYPE, "../../etc/passwd"), "leaves the archive"),
        (_member("snap/abs-link", tarfile.SYMTYPE, "/etc/passwd"), "leaves the archive"),
        (_member("snap/hard", tarfile.LNKTYPE, "../outside"), "leaves the archive"),
        (_member("snap/dev", tarfile.CHRTYPE), "device or fifo"),
        (_member("snap/fifo", tarfile.FIFOTYPE), "device or fifo"),
    ],
)
def test_escaping_members_refused(tmp_path: Path, member: tarfile.TarInfo, reason: str) -> None:
    tar = _evil_tar(tmp_path / "evil.tar.gz", member)
    cache = tmp_path / "cache"
    with pytest.raises(InputError, match=f"refusing member .*{reason}"):
        archive.extract(tar, cache)
    # nothing written outside the cache, nothing left half-extracted inside it
    assert not (tmp_path / "escaped.txt").exists()
    assert list((cache / "extracted").iterdir()) == []
    result = discover([str(tar)], cache_dir=cache)
    assert result.snapshots == []
    assert reason in result.problems[0].message


def test_symlink_inside_is_allowed_by_the_check(tmp_path: Path) -> None:
    tar = _evil_tar(tmp_path / "ok.tar.gz", _member("snap/link", tarfile.SYMTYPE, "other"))
    with tarfile.open(tar) as t:
        assert [m.name for m in archive.check_members(t, "ok")] == ["snap", "snap/link"]


def test_two_top_level_folders_refused(tmp_path: Path) -> None:
    tar = tmp_path / "two.tar"
    with tarfile.open(tar, "w") as t:
        for name in ("a", "b"):
            d = tarfile.TarInfo(name)
            d.type = tarfile.DIRTYPE
            t.addfile(d)
    with pytest.raises(InputError, match="exactly one top-level folder"):
        archive.extract(tar, tmp_path / "cache")


def test_not_a_tar(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"garbage")
    result = discover([str(bad)], cache_dir=tmp_path / "cache")
    assert "not a readable tar archive" in result.problems[0].message
