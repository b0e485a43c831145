"""The IAM policy `collect` needs (extract/permissions.py, docs/operations.md): the calls a
real collection makes against moto, recorded by botocore's own `before-call` event, are
exactly the policy's actions; the docs show the generated policy."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from estate import build_estate, realistic_session_factory
from moto import mock_aws
from typer.testing import CliRunner

from bulkgraph.cli import app
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract.collect import collect
from bulkgraph.extract.operations import OPERATIONS
from bulkgraph.extract.permissions import (
    ASSUME_ROLE,
    collect_policy,
    iam_action,
    read_actions,
)

ROOT = Path(__file__).resolve().parent.parent
ROLE = "arn:aws:iam::123456789012:role/bulkgraph-read"  # the estate's account


def _recording(actions: set[str]) -> Any:
    """Sessions that note the IAM action of every call their clients make."""

    def factory(**kwargs: Any) -> Any:
        session = realistic_session_factory(**kwargs)

        def hook(model: Any, **_: Any) -> None:
            # IAM names an action by the service's signing name: elasticloadbalancing, not elbv2
            actions.add(f"{model.service_model.signing_name}:{model.name}")

        session.events.register("before-call", hook)
        return session

    return factory


@pytest.mark.slow  # the moto estate collected, through an assumed role
def test_collect_calls_exactly_the_policy_s_actions(tmp_path: Path, aws_env: None) -> None:
    own: set[str] = set()  # the credentials' own account, every enabled region
    assumed: set[str] = set()  # through --role-arn, the estate's regions
    with mock_aws():
        build_estate()
        # `--regions all` over moto's ~30 regions would take minutes: no operations there,
        # only what the collector asks before them (a run with nothing collected)
        collect(
            tmp_path, session_factory=_recording(own), regions="all", operations=(), snapshot_id="a"
        )
        result = collect(
            tmp_path,
            session_factory=_recording(assumed),
            regions="us-east-1,eu-west-1",
            role_arns=[ROLE],
            snapshot_id="r",
        )
    assert result.errors == []
    policy = collect_policy([ROLE])
    read, assume = policy["Statement"]
    assert own == {"sts:GetCallerIdentity", "ec2:DescribeRegions"}
    assert own | assumed == {*read["Action"], *assume["Action"]}
    assert assume == {
        "Sid": "BulkgraphAssumeCollectRoles",
        "Effect": "Allow",
        "Action": [ASSUME_ROLE],
        "Resource": [ROLE],
    }
    # every operation of the registry was really called
    assert {iam_action(op) for op in OPERATIONS} <= assumed


def test_iam_action_is_botocore_s_signing_name() -> None:
    """The hand-kept prefix (`elasticloadbalancing` for elbv2) agrees with botocore's."""
    session: Any = boto3.session.Session()
    for op in OPERATIONS:
        model = session._session.get_service_model(op.service)
        assert iam_action(op) == f"{model.signing_name}:{op.action}", op.name


def test_policy_is_read_only_and_the_docs_show_it() -> None:
    policy = collect_policy()
    (read,) = policy["Statement"]
    assert read["Effect"] == "Allow" and read["Resource"] == "*"
    assert read["Action"] == read_actions() == sorted(set(read["Action"]))
    # read-only by name: nothing but Describe*, List* and Get* (GetCallerIdentity included)
    assert [a for a in read["Action"] if not re.match(r"\w+:(Describe|List|Get)", a)] == []
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text.split("### Permissions", 1)[1]
    shown = section.split("```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(shown) == policy


def test_cli_prints_the_policy() -> None:
    res = CliRunner().invoke(app, ["schema", "iam-policy", "--role-arn", f"{ROLE},ext-1"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == collect_policy([ROLE])
    res = CliRunner().invoke(app, ["schema", "iam-policy", "--role-arn", "not-an-arn"])
    # run_main (the installed command) turns it into its message and exit code 2
    assert isinstance(res.exception, BulkgraphError)
    assert res.exception.exit_code == ExitCode.USAGE and "not-an-arn" in str(res.exception)
