"""Deleting a file's `s3://` replica, at the same place and with the same credentials as Litestream 0.5.

Litestream writes a file's replica under `<bucket>/<prefix>/<file name>/`; it has no command that deletes one,
so the bot lists and deletes those objects with boto3 (in the `replicate` extra). The address is read as
Litestream reads `LITESTREAM_REPLICA_URL`: `s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=…`
(an endpoint without a scheme is http for a local or private host, https otherwise; path-style by default
with an endpoint), and the credentials as it does: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, else
`LITESTREAM_ACCESS_KEY_ID`/`LITESTREAM_SECRET_ACCESS_KEY`, else boto3's own chain.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.errors import ConfigurationError, ReplicationError

_LOCAL_PREFIXES = ("localhost", "127.", "10.", "192.168.", *(f"172.{n}." for n in range(16, 32)))
_DELETE_BATCH = 1000  # S3's DeleteObjects maximum


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str  # the replica's folder of one file: "<prefix>/<file name>/", or the URL's prefix alone
    endpoint_url: str | None
    region: str | None
    path_style: bool


def _with_scheme(endpoint: str) -> str:
    if endpoint.startswith(("http://", "https://")):
        return endpoint
    host = endpoint.split(":", 1)[0].lower()
    local = host.startswith(_LOCAL_PREFIXES) or host.endswith((".local", ".localhost"))
    return f"{'http' if local else 'https'}://{endpoint}"


def location(url: str) -> S3Location:
    """Where Litestream puts the replica `url` names (a file's replica URL, or the configured one)."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    endpoint = query.get("endpoint") or None
    path_style = endpoint is not None and query.get("forcePathStyle", query.get("force-path-style")) != "false"
    if "forcePathStyle" in query or "force-path-style" in query:
        path_style = query.get("forcePathStyle", query.get("force-path-style")) == "true"
    prefix = parts.path.strip("/")
    return S3Location(parts.netloc, f"{prefix}/" if prefix else "", _with_scheme(endpoint) if endpoint else None,
                      query.get("region") or None, path_style)


def client(where: S3Location) -> Any:
    """A boto3 S3 client for `where`, with Litestream's credentials.

    Raises:
        ConfigurationError: boto3 is not installed.
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError as error:
        raise ConfigurationError("An s3:// LITESTREAM_REPLICA_URL needs boto3 to delete replicas: "
                                 "pip install 'guildshelf[replicate]'.") from error
    key = os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("LITESTREAM_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY") or os.environ.get("LITESTREAM_SECRET_ACCESS_KEY")
    return boto3.session.Session().client(
        "s3", endpoint_url=where.endpoint_url, region_name=where.region or "us-east-1",
        aws_access_key_id=key or None, aws_secret_access_key=secret or None,
        config=Config(s3={"addressing_style": "path" if where.path_style else "auto"},
                      retries={"max_attempts": 3}))


def delete_prefix(url: str) -> int:
    """Delete every object of the replica `url` (one file's); returns how many.

    Raises:
        ReplicationError: the bucket refused or could not be reached.
    """
    where = location(url)
    if not where.prefix:
        raise ReplicationError("refusing to delete a whole bucket: a file's replica URL has a path")
    s3 = client(where)
    deleted = 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=where.bucket, Prefix=where.prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            for start in range(0, len(keys), _DELETE_BATCH):
                batch = keys[start:start + _DELETE_BATCH]
                answer = s3.delete_objects(Bucket=where.bucket, Delete={"Objects": batch, "Quiet": True})
                if answer.get("Errors"):
                    raise ReplicationError(f"s3 refused to delete {len(answer['Errors'])} replica object(s) "
                                           f"under {where.prefix}: {answer['Errors'][0].get('Code')}")
                deleted += len(batch)
    except ReplicationError:
        raise
    except Exception as error:  # botocore's ClientError, EndpointConnectionError, NoCredentialsError …
        raise ReplicationError(f"deleting the s3 replica {where.prefix} failed: {type(error).__name__}: "
                               f"{str(error)[:160]}") from error
    return deleted
