"""bench/fingerprints.py: the records it finds and the changes it counts (issue #20's
measure of what an incremental transform could skip)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from bench.fingerprints import compare, main
from bench.genestate import EstateSpec, generate


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("fingerprints")
    generate(out, EstateSpec(instances=200, snapshots=3, churn=0.05, seed=3))
    return sorted(p for p in out.iterdir() if p.is_dir())


def _list_elements(folder: Path) -> int:
    """The records counted another way: parsed, every element of a list in a page."""
    manifest = json.loads((folder / "manifest.json").read_text())
    count = 0
    for entry in manifest["files"]:
        doc = json.loads(gzip.decompress((folder / entry["path"]).read_bytes()))
        for call in doc["calls"]:
            for page in call["pages"]:
                count += sum(len(v) for v in page.values() if isinstance(v, list))
    return count


def test_every_list_element_is_a_record_and_churn_is_counted(nights: list[Path]) -> None:
    found = compare(nights)
    assert [n.snapshot for n in found] == [p.name for p in nights]
    assert [n.records for n in found] == [_list_elements(p) for p in nights]
    assert found[0].new_or_changed is None
    for night in found[1:]:
        assert night.new_or_changed is not None and night.gone_or_changed is not None
        # 5 % churn of instances, groups and databases: some records, far from all
        assert 0 < night.new_or_changed < night.records / 4
        assert 0 < night.gone_or_changed < night.records / 4


def _rewrite_instances(folder: Path, change: bool) -> None:
    """The night's DescribeInstances file written again, one reservation changed or not."""
    path = next(folder.rglob("DescribeInstances.json.gz"))
    doc = json.loads(gzip.decompress(path.read_bytes()))
    if change:
        doc["calls"][0]["pages"][0]["Reservations"][0]["Instances"][0]["InstanceType"] = "x9.huge"
    # as the collector writes it: compact, keys in the order read
    path.write_bytes(gzip.compress(json.dumps(doc, separators=(",", ":")).encode()))


def test_one_changed_record_is_one_new_and_one_gone(nights: list[Path], tmp_path: Path) -> None:
    same = shutil.copytree(nights[0], tmp_path / "same")
    _rewrite_instances(same, change=False)
    changed = shutil.copytree(nights[0], tmp_path / "changed")
    _rewrite_instances(changed, change=True)
    first, unchanged, one = compare([nights[0], same, changed])
    assert (unchanged.new_or_changed, unchanged.gone_or_changed) == (0, 0)
    assert (one.new_or_changed, one.gone_or_changed) == (1, 1)
    assert first.records == unchanged.records == one.records


def test_the_command_prints_a_json_line_per_night(
    nights: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*map(str, nights), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["snapshot"] for line in lines] == [p.name for p in nights]
    with pytest.raises(SystemExit):
        main([str(nights[0].parent)])
    assert "no manifest.json" in capsys.readouterr().err
