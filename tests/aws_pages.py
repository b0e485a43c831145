"""Pages as real AWS returns them, for operations moto answers in one page.

moto 5.2 ignores the page parameters of every operation of snapshot format 1.1: the five EC2
ones (DescribeNetworkInterfaces, DescribeRouteTables, DescribeInternetGateways,
DescribeNatGateways, DescribeNetworkAcls), elbv2 DescribeListeners, lambda ListFunctions
and iam GetAccountAuthorizationDetails each answer everything at once, with no token. A
collector that stored only the first page would pass against it.

`paged_session_factory(size)` makes sessions whose calls of those operations are answered
`size` items a page, with the operation's own token names and (IAM) `IsTruncated`, from
moto's whole answer: a botocore `before-call` handler that returns a response short-cuts
the HTTP call, and boto3's paginators then follow the tokens exactly as against AWS. The
collector is not changed; only the answers are.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.handlers import json_decode_policies
from estate import realistic_session_factory

from bulkgraph.extract import operations
from bulkgraph.extract.operations import Operation

#: what moto does not paginate (see the module doc)
MOTO_UNPAGED: tuple[Operation, ...] = (
    operations.DESCRIBE_NETWORK_INTERFACES,
    operations.DESCRIBE_ROUTE_TABLES,
    operations.DESCRIBE_INTERNET_GATEWAYS,
    operations.DESCRIBE_NAT_GATEWAYS,
    operations.DESCRIBE_NETWORK_ACLS,
    operations.DESCRIBE_LISTENERS,
    operations.LIST_FUNCTIONS,
    operations.GET_ACCOUNT_AUTHORIZATION_DETAILS,
)


def _keys(config: dict[str, Any]) -> list[str]:
    result = config["result_key"]
    return [result] if isinstance(result, str) else list(result)


class PagedAnswers:
    """The `before-call` handlers, and a count of the pages each operation was served."""

    def __init__(self, size: int, ops: tuple[Operation, ...] = MOTO_UNPAGED) -> None:
        self.size = size
        self.ops = ops
        self.served: Counter[str] = Counter()  # operation name -> pages answered
        self._plain: dict[tuple[str, str], Any] = {}

    def register(self, session: Any) -> None:
        models = {s: session._session.get_paginator_model(s) for s in {o.service for o in self.ops}}
        for op in self.ops:
            assert op.paginator is not None, op.name
            config = models[op.service].get_paginator(op.action)
            # the API parameters as given: before-call sees only the serialized request
            session.events.register(f"before-parameter-build.{op.service}.{op.action}", _keep)
            session.events.register(
                f"before-call.{op.service}.{op.action}", self._handler(op, dict(config))
            )

    def _handler(self, op: Operation, config: dict[str, Any]) -> Any:
        def answer(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            params = dict(context["api_params"])
            start = int(params.pop(config["input_token"], None) or 0)
            params.pop(config["limit_key"], None)
            region = context["client_region"]
            whole = getattr(self._client(op.service, region), str(op.paginator))(**params)
            end = start + self.size
            page = {k: v for k, v in whole.items() if k not in _keys(config)}
            more = False
            for key in _keys(config):
                items = whole.get(key, [])
                page[key] = items[start:end]
                more = more or len(items) > end
            if more:
                page[config["output_token"]] = str(end)
            if "more_results" in config:
                page[config["more_results"]] = more
            self.served[op.name] += 1
            return AWSResponse("https://moto.invalid/", 200, HTTPHeaders(), None), page

        return answer

    def _client(self, service: str, region: str) -> Any:
        """A client without these handlers, for moto's whole answer, as parsed before
        botocore's own after-call handlers (they run on the page returned in its place)."""
        if (service, region) not in self._plain:
            session: Any = boto3.session.Session(region_name=region)
            client = session.client(service)
            client.meta.events.unregister("after-call.iam", json_decode_policies)
            self._plain[(service, region)] = client
        return self._plain[(service, region)]

    def session_factory(self, **kwargs: Any) -> Any:
        session = realistic_session_factory(**kwargs)
        self.register(session)
        return session


def _keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["api_params"] = dict(params)
