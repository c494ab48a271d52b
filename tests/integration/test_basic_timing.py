"""Issue 24.8: a refused Basic login must not tell by its timing whether
the user exists.  No timings are asserted here (they would be flaky): the
test asserts that both refusals take the same path - the unknown user's
password goes through the same key derivation a known user's does, and
both refusals are held to the same floor - from the module's log lines.
tests/integration/measure_basic_timing.py measures the times."""

import re

import pytest

from conftest import https_request, start_httpd
from test_basic import BODY, basic


@pytest.fixture(scope="module")
def tserver(base_dir, module_path, realm, certs, keytab):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-basic-timing-path")
    yield srv
    srv.stop()


def refusal_line(srv, path, user):
    mark = srv.log_mark()
    st, _, _ = https_request(srv, path, [basic(user, "not-the-password")])
    assert st == 401
    lines = [l for l in srv.log_since(mark).splitlines()
             if "N8443081: Basic login of '%s' refused (password)" % user
             in l]
    assert len(lines) == 1, srv.log_since(mark)
    return lines[0]


@pytest.mark.parametrize("path", ["/fallback/", "/provider/"])
def test_unknown_and_known_user_take_the_same_path(tserver, path):
    known = refusal_line(tserver, path, "alice")
    unknown = refusal_line(tserver, path, "no-such-user")
    # The unknown user's password is put through the key derivation the
    # client library did for alice after the KDC asked for pre-auth.
    assert "[key derived as for a known user]" in unknown
    assert "[key derived as for a known user]" not in known
    held = re.compile(r"\[refusal held to 200 ms; took [0-9.]+ ms\]")
    assert held.search(known), known
    assert held.search(unknown), unknown


def test_every_refusal_is_held(tserver):
    """Refusals for other reasons (a realm the server has no key for) are
    held to the same floor."""
    mark = tserver.log_mark()
    st, _, _ = https_request(tserver, "/fallback/",
                             [basic("alice@OTHER.REALM", "pw")])
    assert st == 401
    log = tserver.log_since(mark)
    assert "refused (realm not served)" in log
    assert "[refusal held to 200 ms; took " in log
