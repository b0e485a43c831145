"""Snapshots from the AWS Config files an organisation already has in S3 (docs/aws-config.md).

`keys` names the files, `files` finds and streams them, `fold` keeps the state of an account
and region as of a time, `adapters` turn configuration items into boto3 response shapes,
and `build` writes one native snapshot per time step.
"""
