"""The module under each of httpd's MPMs: logins from several clients at
once, the same results everywhere."""

import concurrent.futures

import pytest

from conftest import (STANDARD_BODY, https_request, negotiate,
                      start_httpd)


@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_logins_under_mpm(mpm, base_dir, module_path, realm, certs, keytab,
                          alice, bob):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                      STANDARD_BODY, mpm=mpm, name="httpd-mpm-" + mpm)
    try:
        status, out = alice.curl(srv.url("/cgi-bin/env"))
        assert status == 200, out
        assert "REMOTE_USER=alice@TEST.N8443" in out

        tokens = [(c, c.token()[1]) for c in (alice, bob) * 10]

        def one(item):
            client, tok = item
            st, headers, _ = https_request(srv, "/protected/",
                                           [negotiate(tok)])
            return st, headers["X-Remote-User"], client.user

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, tokens))
        for st, user, expected in results:
            assert st == 200
            assert user == expected + "@TEST.N8443"
        assert "exit signal" not in srv.output()
    finally:
        srv.stop()
