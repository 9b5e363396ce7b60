# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup store URLs: sftp://user@host[:port]/path and s3://bucket/prefix."""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

SCHEMES = ("sftp", "s3")


class StoreUrlError(EtcdOpsError):
    """A store URL that cannot be used; msg shows the forms that can."""


@dataclass(frozen=True)
class StoreUrl:
    scheme: str
    host: str            # the SFTP server, or the S3 bucket
    path: str            # the dir on the server (absolute), or the key prefix in the bucket ('' or ending in '/')
    user: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        if self.scheme == "sftp":
            port = ":%d" % self.port if self.port else ""
            return "sftp://%s@%s%s%s" % (self.user, self.host, port, self.path)
        return "s3://%s/%s" % (self.host, self.path)

    def name(self, file_name: str) -> str:
        """The full path or key of `file_name` in this store."""
        return self.path.rstrip("/") + "/" + file_name if self.scheme == "sftp" else self.path + file_name


def parse(text: str) -> StoreUrl:
    """Raises StoreUrlError naming what is wrong and the forms that work."""
    forms = "give sftp://user@host[:port]/dir or s3://bucket[/prefix]"
    try:
        parts = urllib.parse.urlsplit(str(text).strip())
    except ValueError as exc:
        raise StoreUrlError("store URL cannot be read (%s): %s" % (exc, forms)) from None
    if parts.password:
        # Never repeat a password: the messages show the URL without it.
        text = str(text).replace(":" + parts.password + "@", ":********@", 1)
    try:
        port = parts.port
    except ValueError as exc:
        raise StoreUrlError("store URL %r cannot be read (%s): %s" % (text, exc, forms)) from None
    if parts.scheme not in SCHEMES:
        raise StoreUrlError("store URL %r has %s: %s" % (
            text, "scheme %r" % parts.scheme if parts.scheme else "no scheme", forms)) from None
    if parts.query or parts.fragment or parts.password:
        raise StoreUrlError("store URL %r has a %s: %s (credentials go in the store's options, never in its URL)" % (
            text, "password" if parts.password else "query or fragment", forms))
    if not parts.hostname:
        raise StoreUrlError("store URL %r names no %s: %s" % (
            text, "host" if parts.scheme == "sftp" else "bucket", forms))
    if parts.scheme == "sftp":
        if not parts.username:
            raise StoreUrlError("store URL %r names no user: %s" % (text, forms))
        path = urllib.parse.unquote(parts.path)
        if not path.startswith("/") or path == "/":
            raise StoreUrlError("store URL %r names no dir on the server: %s (a path that is not /)" % (text, forms))
        return StoreUrl("sftp", parts.hostname, path.rstrip("/") or "/", urllib.parse.unquote(parts.username), port)
    if parts.username or port:
        raise StoreUrlError("store URL %r: an s3 URL has no user or port (give endpoint_url for another store): %s"
                            % (text, forms))
    prefix = urllib.parse.unquote(parts.path).lstrip("/")
    return StoreUrl("s3", parts.netloc, prefix.rstrip("/") + "/" if prefix else "")
