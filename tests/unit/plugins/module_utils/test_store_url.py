"""Store URLs: what is accepted, and what each refusal says."""
import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._store.url import StoreUrlError, parse


def test_sftp_and_s3_urls_are_read():
    url = parse("sftp://backup@10.0.0.5:2022/srv/etcd/prod/")
    assert (url.scheme, url.user, url.host, url.port, url.path) == ("sftp", "backup", "10.0.0.5", 2022, "/srv/etcd/prod")
    assert url.name("a.db") == "/srv/etcd/prod/a.db" and str(url) == "sftp://backup@10.0.0.5:2022/srv/etcd/prod"
    assert parse("sftp://backup@host/d").port is None
    bucket = parse("s3://etcd-backups/prod/cluster-a")
    assert (bucket.host, bucket.path, bucket.name("a.db")) == ("etcd-backups", "prod/cluster-a/", "prod/cluster-a/a.db")
    assert parse("s3://etcd-backups").path == ""


@pytest.mark.parametrize("text, words", [
    ("/srv/etcd", "no scheme"),
    ("ftp://u@h/d", "scheme 'ftp'"),
    ("sftp://host/d", "names no user"),
    ("sftp://u@host", "names no dir"),
    ("sftp://u@host/", "names no dir"),
    ("sftp://u:secret@host/d", "credentials go in the store's options"),
    ("sftp://u@host:99999/d", "cannot be read"),
    ("s3://u@bucket/p", "no user or port"),
    ("sftp://u@host/d?x=1", "query or fragment"),
])
def test_bad_urls_are_refused_with_the_forms_that_work(text, words):
    with pytest.raises(StoreUrlError) as refused:
        parse(text)
    assert words in refused.value.msg and "sftp://user@host[:port]/dir" in refused.value.msg
    assert "secret" not in refused.value.msg
