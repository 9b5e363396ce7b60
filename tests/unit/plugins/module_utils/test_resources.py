"""Kubernetes objects per resource type from kube-apiserver's key layout, read a page at a time."""
from types import SimpleNamespace

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._etcd import resources


@pytest.mark.parametrize("key, kind", [
    (b"/registry/secrets/team-a/db", "secrets"),
    (b"/registry/namespaces/default", "namespaces"),
    (b"/registry/services/specs/team-a/web", "services/specs"),
    (b"/registry/services/endpoints/team-a/web", "services/endpoints"),
    (b"/registry/cert-manager.io/certificates/team-a/web", "cert-manager.io/certificates"),
    (b"/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.io",
     "apiextensions.k8s.io/customresourcedefinitions"),
    (b"/registry/masterleases", None),
    (b"/registry/cert-manager.io/certificates", None),
    (b"/other/secrets/x", None),
])
def test_resource_type(key, kind):
    assert resources.resource_type(key) == kind


class Pages:
    """A member's Range answers for `keys`, `limit` at a time, as etcd pages them."""

    def __init__(self, keys):
        self.keys = sorted(keys)
        self.requests = []
        self.rpc = SimpleNamespace(RangeRequest=lambda **fields: fields)

    def call(self, stub, method, request):
        assert (stub, method) == ("kvstub", "Range") and request["keys_only"] and request["revision"] == 9
        self.requests.append(request["key"])
        found = [k for k in self.keys if request["key"] <= k < request["range_end"]]
        page = found[:request["limit"]]
        return SimpleNamespace(kvs=[SimpleNamespace(key=k) for k in page], more=len(found) > len(page))


def test_registry_keys_come_in_pages_and_all_arrive(monkeypatch):
    monkeypatch.setattr(resources, "PAGE", 3)
    keys = [b"/registry/pods/a/%d" % n for n in range(7)] + [b"/registry/secrets/a/s", b"/registryx", b"/zzz"]
    conn = Pages(keys)
    got = list(resources.registry_keys(conn, 9))
    assert got == sorted(keys[:8]) and len(conn.requests) == 3
    assert resources.count_resources(got) == {"pods": 7, "secrets": 1}
