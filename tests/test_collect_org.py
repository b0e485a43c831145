"""Collecting a whole AWS Organization (issue 23): accounts from ListAccounts, a role assumed
in each, page sizes on every paginated call, one bounded pool, resumable collection.

The organization tests run the real CLI in a subprocess against a moto server on a loopback
port, through a proxy that records every call and answers an AssumeRole of a role that does
not exist the way STS does (moto itself lets any role be assumed).
"""

from __future__ import annotations

import gzip
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from moto import mock_aws
from org_server import (
    MANAGEMENT,
    REGIONS,
    ROLE,
    build_organization,
    bulkgraph,
    launch_many,
    moto_server,
    role_checking_proxy,
    start_bulkgraph,
)

from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract import resume
from bulkgraph.extract.collect import _Job, collect
from bulkgraph.extract.operations import OPERATIONS, Scope
from bulkgraph.extract.organization import parse_accounts, select
from bulkgraph.settings import Settings

#: what the collector may call besides the registry's operations (docs/operations.md)
STRUCTURE_ACTIONS = {
    "organizations:ListAccounts",  # --organization-role, in the management account
    "sts:AssumeRole",  # every account reached through a role
    "sts:GetCallerIdentity",  # who am I: needs no permission
    "ec2:DescribeRegions",  # --regions all: the regions enabled for the account
}
#: the IAM prefix of each boto3 client name (elbv2 signs as elasticloadbalancing)
IAM_PREFIX = {"elbv2": "elasticloadbalancing"}


def documented_actions() -> set[str]:
    return STRUCTURE_ACTIONS | {
        f"{IAM_PREFIX.get(op.service, op.service)}:{op.action}" for op in OPERATIONS
    }


def data_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.json.gz")}


def expected_files(account: str, regions: tuple[str, ...] = REGIONS) -> set[str]:
    return {op.path(account, r) for op in OPERATIONS for r in op.regions(list(regions))}


# --- the registry's page sizes ----------------------------------------------------------------


def test_every_paginated_call_that_takes_a_page_size_has_one_within_the_api_limits() -> None:
    session = botocore.session.get_session()
    for op in OPERATIONS:
        limit_key = None
        if op.paginator is not None:
            pager = session.get_paginator_model(op.service).get_paginator(op.action)
            limit_key = pager.get("limit_key")
        if limit_key is None:
            assert op.page_size is None, op.name
            continue
        assert op.page_size is not None, f"{op.name} takes {limit_key} but has no page size"
        shape = session.get_service_model(op.service).operation_model(op.action).input_shape
        assert shape is not None
        bounds = shape.members[limit_key].metadata
        assert bounds.get("min", 1) <= op.page_size <= bounds.get("max", op.page_size), op.name


def test_calls_ask_for_the_page_size_and_wait_the_read_timeout(
    tmp_path: Path, aws_env: None
) -> None:
    sent: dict[str, dict[str, Any]] = {}
    timeouts: list[float] = []

    def factory(**kwargs: Any) -> Any:
        import boto3

        session = boto3.session.Session(**kwargs)

        def hook(model: Any, params: dict[str, Any], **_: Any) -> None:
            sent.setdefault(f"{model.service_model.service_name}:{model.name}", params)

        session.events.register("provide-client-params", hook)
        real = session.client

        def client(*args: Any, **kw: Any) -> Any:
            made = real(*args, **kw)
            timeouts.append(made.meta.config.read_timeout)
            return made

        session.client = client  # type: ignore[method-assign]
        return session

    with mock_aws():
        result = collect(tmp_path, session_factory=factory, regions="us-east-1", snapshot_id="p")
    assert result.exit_code == ExitCode.OK, result.errors
    assert sent["ec2:DescribeInstances"]["MaxResults"] == 1000
    assert sent["rds:DescribeDBInstances"]["MaxRecords"] == 100
    assert sent["elbv2:DescribeLoadBalancers"]["PageSize"] == 400
    assert sent["lambda:ListFunctions"]["MaxItems"] == 50
    assert sent["iam:GetAccountAuthorizationDetails"]["MaxItems"] == 1000
    for op in OPERATIONS:
        if op.page_size is not None and op.name in sent:
            assert op.page_size in sent[op.name].values(), op.name
    # the page size is how it is asked, not what: the stored request does not carry it
    doc = json.loads(
        gzip.decompress((result.folder / OPERATIONS[3].path(MANAGEMENT, "us-east-1")).read_bytes())
    )
    assert doc["calls"][0]["request"] == {}
    # the collector's clients wait the default read timeout (sts and the like are boto3's)
    assert Settings().bulkgraph_collect_read_timeout == 120.0
    assert timeouts.count(120.0) >= len({op.service for op in OPERATIONS})


def test_job_clients_take_the_read_timeout(aws_env: None) -> None:
    with mock_aws():
        import boto3

        job = _Job(
            MANAGEMENT,
            "us-east-1",
            boto3.session.Session(region_name="us-east-1"),
            threading.Lock(),
            OPERATIONS[:1],
            read_timeout=7.5,
        )
    assert job._clients["ec2"].meta.config.read_timeout == 7.5
    assert job._clients["ec2"].meta.config.retries["mode"] == "adaptive"


def test_account_filters() -> None:
    assert parse_accounts(["111111111111,222222222222", "333333333333"], "--accounts") == [
        "111111111111",
        "222222222222",
        "333333333333",
    ]
    with pytest.raises(BulkgraphError, match="--accounts 12: an account id is 12 digits"):
        parse_accounts(["12"], "--accounts")
    found = ["111111111111", "222222222222", "333333333333"]
    assert select(found, [], ["222222222222"]) == ["111111111111", "333333333333"]
    assert select(found, ["333333333333"], []) == ["333333333333"]
    with pytest.raises(BulkgraphError, match="444444444444: not among"):
        select(found, ["444444444444"], [])


# --- an organization on a moto server ---------------------------------------------------------


@pytest.mark.slow  # a moto server, an organization of three accounts, the CLI three times
def test_organization_of_three_accounts_one_without_the_role(tmp_path: Path) -> None:
    with moto_server() as upstream, role_checking_proxy(upstream) as proxy:
        org = build_organization(upstream, members=2, without_role=1)
        reachable = [a for a in org.accounts if a in org.with_role]
        (lacking,) = [a for a in org.accounts if a not in org.with_role]
        proxy.clear()
        out = tmp_path / "out"
        res = bulkgraph(
            tmp_path, proxy.endpoint, "collect", "--out", str(out), "--snapshot-id", "org-1",
            "--organization-role", ROLE, "--regions", ",".join(REGIONS), "--json",
        )  # fmt: skip
        assert res.returncode == 3, res.stdout + res.stderr
        calls = proxy.actions()
        assumed = {c.role_arn for c in proxy.calls if c.action == "AssumeRole"}

        folder = out / "org-1"
        manifest = json.loads((folder / "manifest.json").read_text())
        # the account without the role is recorded, once, for the whole account
        assert [
            (e["account_id"], e["region"], e["operation"], e["error_code"])
            for e in manifest["errors"]
        ] == [(lacking, "*", "sts:AssumeRole", "AccessDenied")]
        assert f"arn:aws:iam::{lacking}:role/{ROLE}" in manifest["errors"][0]["message"]
        # the two others are complete: every operation in every region, their own estate
        assert data_files(folder) == expected_files(reachable[0]) | expected_files(reachable[1])
        assert manifest["accounts"] == [
            {"account_id": a, "regions": sorted(REGIONS)} for a in sorted(reachable)
        ]
        for account in reachable:
            for region in REGIONS:
                doc = json.loads(
                    gzip.decompress((folder / OPERATIONS[3].path(account, region)).read_bytes())
                )
                got = {
                    i["InstanceId"]
                    for c in doc["calls"]
                    for p in c["pages"]
                    for r in p["Reservations"]
                    for i in r["Instances"]
                }
                assert got == set(org.instances[account][region])
        # every account, the management account too, through the role
        assert assumed == {f"arn:aws:iam::{a}:role/{ROLE}" for a in org.accounts}
        # only documented actions were called
        assert calls <= documented_actions(), calls - documented_actions()
        assert "organizations:ListAccounts" in calls

        summary = json.loads(res.stdout)
        assert summary["exit_code"] == 3
        assert summary["per_account"] == {
            **{a: {"regions": 2, "files": 35, "errors": 0, "reached": True} for a in reachable},
            lacking: {"regions": 0, "files": 0, "errors": 1, "reached": False},
        }
        assert f"error: {lacking}/* sts:AssumeRole: AccessDenied" in res.stderr
        assert bulkgraph(tmp_path, upstream, "snapshots", "verify", str(folder)).returncode == 0

        # filters: without the account that lacks the role the run is complete
        res = bulkgraph(
            tmp_path, proxy.endpoint, "collect", "--out", str(out), "--snapshot-id", "org-2",
            "--organization-role", ROLE, "--regions", "us-east-1",
            "--exclude-accounts", lacking, "--json",
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert sorted(json.loads(res.stdout)["accounts"]) == sorted(reachable)
        res = bulkgraph(
            tmp_path, proxy.endpoint, "collect", "--out", str(out), "--snapshot-id", "org-3",
            "--organization-role", ROLE, "--regions", "us-east-1",
            "--accounts", reachable[1], "--json",
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert list(json.loads(res.stdout)["accounts"]) == [reachable[1]]
        assert data_files(out / "org-3") == expected_files(reachable[1], ("us-east-1",))
        # an unknown account is a usage error, before any AWS call but ListAccounts
        res = bulkgraph(
            tmp_path, proxy.endpoint, "collect", "--out", str(out), "--snapshot-id", "org-4",
            "--organization-role", ROLE, "--accounts", "999999999999",
        )  # fmt: skip
        assert res.returncode == 2, res.stderr
        assert "999999999999: not among the accounts to collect" in res.stderr
        assert not (out / "org-4").exists()


#: the one data file of each account that must differ between two collections: it lists the
#: collection's own role, whose RoleLastUsed.LastUsedDate each run moves (as AWS does)
IAM_FILE = "/global/iam/GetAccountAuthorizationDetails.json.gz"


def _without_role_use(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    for call in doc["calls"]:
        for page in call["pages"]:
            for role in page["RoleDetailList"]:
                if role["RoleName"] == ROLE:
                    del role["RoleLastUsed"]["LastUsedDate"]
    return doc


def _manifest_without_times(folder: Path, differ: set[str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    # what must differ between two runs: when each started and ended, and the checksums of
    # the files above
    del doc["taken_at"], doc["completed_at"]
    for entry in doc["files"]:
        if entry["path"] in differ:
            del entry["sha256"], entry["bytes"]
    return doc


@pytest.mark.slow  # a moto server, an organization, a killed collection finished
def test_killed_collection_resumed_gives_the_same_snapshot(tmp_path: Path) -> None:
    args = ["--organization-role", ROLE, "--regions", ",".join(REGIONS), "--workers", "1"]
    with moto_server() as upstream, role_checking_proxy(upstream) as proxy:
        org = build_organization(upstream, members=2, instances=3)
        planned = set().union(*(expected_files(a) for a in org.accounts))

        # 1. killed (SIGKILL: no clean-up of any kind) once the first data files exist
        out = tmp_path / "killed"
        folder = out / "snap"
        proc = start_bulkgraph(
            tmp_path, proxy.endpoint, "collect", "--out", str(out), "--snapshot-id", "snap", *args
        )
        try:
            deadline = time.monotonic() + 300
            while len(data_files(folder)) < 5 and proc.poll() is None:
                assert time.monotonic() < deadline, "no data file appeared"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL, "finished before it could be killed"
        assert not (folder / "manifest.json").exists()
        done_before = data_files(folder)
        assert done_before < planned  # half-way: some files, not all

        # 2. not a snapshot: verify says so and names what is missing
        res = bulkgraph(tmp_path, upstream, "snapshots", "verify", str(folder))
        assert res.returncode == 1, res.stdout + res.stderr
        assert "incomplete collection (no manifest.json)" in res.stdout
        assert f"collect --resume {folder}" in res.stdout
        lines = res.stdout.splitlines()
        for path in sorted(planned - done_before)[:5]:
            account, region, service, action = path.removesuffix(".json.gz").split("/")
            assert any(
                line.startswith(f"{folder}/{account}/{region}: missing")
                and f"{service}:{action}" in line
                for line in lines
            ), (path, res.stdout)
        res = bulkgraph(tmp_path, upstream, "snapshots", "list", str(out), "--json")
        assert res.returncode == 1 and json.loads(res.stdout)["snapshots"] == []

        # 3. resumed: only what is missing is called, then the manifest
        proxy.clear()
        res = bulkgraph(tmp_path, proxy.endpoint, "collect", "--resume", str(folder), "--json")
        assert res.returncode == 0, res.stdout + res.stderr
        summary = json.loads(res.stdout)
        assert summary["resumed"] is True and summary["files"] == len(planned)
        missing_vpcs = {p for p in planned - done_before if p.endswith("ec2/DescribeVpcs.json.gz")}
        assert proxy.count("ec2", "DescribeVpcs") == len(missing_vpcs)
        assert proxy.count("organizations", "ListAccounts") == 0  # the plan knows the accounts
        assert not (folder / resume.STATE_DIR).exists()
        assert not list(folder.rglob("*.tmp"))

        # 4. the same collection, never interrupted
        whole = tmp_path / "whole" / "snap"
        res = bulkgraph(
            tmp_path, upstream, "collect", "--out", str(whole.parent), "--snapshot-id", "snap",
            *args,
        )  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr

    assert data_files(folder) == data_files(whole) == planned
    differ = {p for p in planned if p.endswith(IAM_FILE)}
    assert len(differ) == len(org.accounts)
    for path in sorted(planned - differ):  # byte for byte
        assert (folder / path).read_bytes() == (whole / path).read_bytes(), path
    for path in sorted(differ):
        assert _without_role_use(folder / path) == _without_role_use(whole / path), path
    assert _manifest_without_times(folder, differ) == _manifest_without_times(whole, differ)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in whole.iterdir())
    res = bulkgraph(tmp_path, "http://127.0.0.1:9", "snapshots", "verify", str(folder))
    assert res.returncode == 0, res.stdout + res.stderr


def test_resume_refuses_a_complete_snapshot_and_a_stranger(tmp_path: Path, aws_env: None) -> None:
    with mock_aws():
        result = collect(tmp_path, regions="us-east-1", snapshot_id="done")
        assert result.manifest is not None
        with pytest.raises(BulkgraphError, match=r"complete \(manifest.json exists\)"):
            collect(None, resume=result.folder)
        (tmp_path / "stranger").mkdir()
        with pytest.raises(BulkgraphError, match="not an interrupted collection"):
            collect(None, resume=tmp_path / "stranger")
        # nor does a new collection start over an interrupted one of the same id
        (tmp_path / "half" / resume.STATE_DIR).mkdir(parents=True)
        (tmp_path / "half" / resume.STATE_DIR / resume.PLAN).write_text("{}")
        with pytest.raises(BulkgraphError, match="interrupted collection of this id"):
            collect(tmp_path, regions="us-east-1", snapshot_id="half")


def test_plan_lists_what_is_missing(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    folder = tmp_path / "s"
    folder.mkdir()
    plan = resume.Plan(
        snapshot_id="s",
        taken_at=datetime(2026, 1, 1, tzinfo=UTC),
        regions=["us-east-1"],
        operations=[op.name for op in OPERATIONS],
        accounts={
            "111111111111": resume.AccountPlan(role_arn=None, regions=["us-east-1"]),
            "222222222222": resume.AccountPlan(role_arn="arn:aws:iam::222222222222:role/r"),
        },
    )
    resume.save_plan(folder, plan)
    assert resume.load_plan(folder) == plan
    done = OPERATIONS[0]
    (folder / done.path("111111111111", "us-east-1")).parent.mkdir(parents=True)
    (folder / done.path("111111111111", "us-east-1")).write_bytes(b"x")
    gaps = resume.missing(folder, plan)
    assert ("111111111111", "us-east-1", done.name) not in gaps
    assert len([g for g in gaps if g[0] == "111111111111"]) == len(OPERATIONS) - 1
    glob = [op for op in OPERATIONS if op.scope is Scope.GLOBAL]
    assert {("111111111111", "global", op.name) for op in glob} <= set(gaps)
    assert ("222222222222", "*", "*") in gaps
    problems = resume.incomplete_problems(folder)
    assert f"{len(gaps) - 1} of {len(OPERATIONS)} data files missing, 1 account(s) not" in (
        problems[0].message
    )
    assert problems[-1].location.endswith("222222222222/*")
    # a journal line cut short by a kill is skipped, the others kept
    journal = resume.Journal(folder)
    journal.record("111111111111", "us-east-1", done.name, [])
    journal.close()
    with (folder / resume.STATE_DIR / resume.JOURNAL).open("a") as f:
        f.write('{"account_id": "1111')
    assert resume.journal_errors(folder) == {("111111111111", "us-east-1", done.name): []}


# --- a region at its real size ----------------------------------------------------------------

#: large enough for several full pages and a short last one; the 10,000-instance region of
#: issue 23's report is the benchmark's collect stage (bench/collectbench.py), not a test:
#: moto renders it for ~4 min on this 2-core machine
LARGE_REGION = 2_500


@pytest.mark.slow  # ~1 min: moto renders 2,500 instances
def test_a_large_region_is_collected_in_pages_with_default_settings(tmp_path: Path) -> None:
    """Issue 23's first report: one unpaginated DescribeInstances of an 11,000-instance region
    outlasted botocore's 60 s read timeout, every retry too, and the collection never ended.
    With the registry's page sizes it is asked for in pages of 1000, no option given."""
    with moto_server(MOTO_EC2_LOAD_DEFAULT_AMIS="false") as endpoint:
        launch_many(MANAGEMENT, "us-east-1", LARGE_REGION)
        started = time.monotonic()
        res = bulkgraph(
            tmp_path, endpoint, "collect", "--out", str(tmp_path / "out"),
            "--regions", "us-east-1", "--snapshot-id", "large", "--json", timeout=None,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    assert json.loads(res.stdout)["errors"] == []
    folder = tmp_path / "out" / "large"
    doc = json.loads(
        gzip.decompress((folder / OPERATIONS[3].path(MANAGEMENT, "us-east-1")).read_bytes())
    )
    (call,) = doc["calls"]
    ids = [
        i["InstanceId"] for p in call["pages"] for r in p["Reservations"] for i in r["Instances"]
    ]
    assert len(ids) == len(set(ids)) == LARGE_REGION
    # pages of 1000 (moto counts reservations, one instance each here, as AWS counts instances)
    assert [sum(len(r["Instances"]) for r in p["Reservations"]) for p in call["pages"]] == [
        1000,
        1000,
        500,
    ]
    print(f"collected {LARGE_REGION} instances in {elapsed:.0f} s")


@pytest.mark.parametrize("bars", [False, True])
def test_progress_names_each_account_as_its_last_region_is_done(bars: bool) -> None:
    import logging

    from bulkgraph.extract.progress import CollectProgress

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    logger = logging.getLogger("bulkgraph")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with CollectProgress(bars, {"111111111111": 2, "222222222222": 1}) as shown:
            shown.finished("111111111111", "us-east-1", 0)
            assert records == []
            if bars:  # a bar for the account being collected, gone when it is done
                assert list(shown._tasks) == ["111111111111"]
            shown.finished("222222222222", "global", 1)
            shown.finished("111111111111", "eu-west-1", 2)
            assert shown._tasks == {}
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert [r.getMessage() for r in records] == [
        "account 222222222222: 1 region job(s) done, 1 error(s)",
        "account 111111111111: 2 region job(s) done, 2 error(s)",
    ]


def test_docs_give_the_management_account_exactly_what_the_structure_calls() -> None:
    """docs/operations.md: the management account's policy allows what `collect` calls to
    list and reach the accounts (GetCallerIdentity needs no permission; DescribeRegions is
    in the generated read-only policy of each member role)."""
    text = (Path(__file__).parent.parent / "docs" / "operations.md").read_text()
    section = text.split("### Permissions in the organization", 1)[1]
    policy = json.loads(section.split("```json", 1)[1].split("```", 1)[0])
    actions = {s["Action"] for s in policy["Statement"]}
    assert actions == STRUCTURE_ACTIONS - {"sts:GetCallerIdentity", "ec2:DescribeRegions"}
    assert f"role/{ROLE}" in json.dumps(policy)


def test_a_resume_that_collects_nothing_keeps_the_collection_resumable(
    tmp_path: Path, aws_env: None
) -> None:
    from datetime import UTC, datetime

    import boto3
    from botocore.exceptions import ClientError

    def deny_all(**kwargs: Any) -> Any:
        session = boto3.session.Session(**kwargs)

        def hook(**_: Any) -> None:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "later"}}, "Any")

        session.events.register("before-call", hook)
        return session

    folder = tmp_path / "s"
    plan = resume.Plan(
        snapshot_id="s",
        taken_at=datetime(2026, 1, 1, tzinfo=UTC),
        regions=["us-east-1"],
        operations=[op.name for op in OPERATIONS],
        accounts={MANAGEMENT: resume.AccountPlan(role_arn=None, regions=["us-east-1"])},
    )
    resume.save_plan(folder, plan)
    with mock_aws():
        failed = collect(None, resume=folder, session_factory=deny_all)
        assert failed.exit_code == ExitCode.FAILED
        assert resume.is_in_progress(folder)  # the plan is kept: try again later
        done = collect(None, resume=folder)
    assert done.exit_code == ExitCode.OK, done.errors
    assert done.files == len(expected_files(MANAGEMENT, ("us-east-1",)))
    assert (
        json.loads((folder / "manifest.json").read_text())["taken_at"] == plan.taken_at.isoformat()
    )
    assert not (folder / resume.STATE_DIR).exists()
