"""RPM packaging: the tarball from `make dist` builds with `rpmbuild -ta`,
the packages hold the expected files with the expected modes, rpmlint finds
no errors, and what the package installs passes `httpd -t` with the
packaged module.  Also: the module's man page and the annotated conf.d file
describe exactly the directives the module registers.

On a host whose rpm database does not know rpm itself (Debian), rpmbuild
runs with --nodeps: the BuildRequires are Fedora names, satisfied here by
the Debian packages tools/install-deps installs.
"""

import glob
import os
import re
import shutil
import subprocess
import tarfile

import pytest

import harness
from conftest import build_dir

SRCDIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NAME = "mod_negotiate8443"

# conf.d/ file -> where the main package installs it (relative to /), and
# whether it is %config(noreplace).
SNIPPETS = {
    "10-negotiate8443.conf":
        ("etc/httpd/conf.modules.d/10-negotiate8443.conf", True),
    "negotiate8443.conf": ("etc/httpd/conf.d/negotiate8443.conf", True),
    "mod_negotiate8443-tmpfiles.conf":
        ("usr/lib/tmpfiles.d/mod_negotiate8443.conf", False),
    "80-httpd.conf": ("usr/share/doc/%s/examples/gssproxy/80-httpd.conf"
                      % NAME, False),
    "httpd.service.d-gssproxy.conf":
        ("usr/share/doc/%s/examples/httpd.service.d/gssproxy.conf" % NAME,
         False),
}


def run(cmd, cwd=None, timeout=600, env=None):
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                         timeout=timeout, env=env)
    return res


def module_directives():
    """The directive names config.c registers (AP_INIT_*("Name", ...))."""
    with open(os.path.join(SRCDIR, NAME, "config.c")) as f:
        text = f.read()
    names = re.findall(r'AP_INIT_[A-Z0-9]+\(\s*"(Negotiate\w+)"', text)
    assert len(names) >= 8, "cannot read the directive table of config.c"
    return set(names)


def makefile_var(builddir, var):
    with open(os.path.join(builddir, "Makefile")) as f:
        for line in f:
            if line.startswith(var + " ="):
                return line.split("=", 1)[1].strip()
    raise KeyError(var)


def rpm_eval(expr):
    return run(["rpm", "--eval", expr]).stdout.strip()


class Build:
    """One rpmbuild of the `make dist` tarball, in a private _topdir."""

    def __init__(self, base):
        self.builddir = build_dir()
        self.top = os.path.join(base, "rpmbuild")
        os.makedirs(self.top)
        self.version = makefile_var(self.builddir, "PACKAGE_VERSION")
        # The tool is part of the build once tools/n8443ctl/Makefile.inc
        # builds it; until then the spec is built --without tools.
        self.with_tools = "n8443ctl" in makefile_var(self.builddir,
                                                     "sbin_PROGRAMS")
        self.tarball = None
        self.log = os.path.join(self.top, "rpmbuild.log")

    def make_dist(self):
        name = "%s-%s.tar.gz" % (NAME, self.version)
        in_tree = os.path.join(self.builddir, name)
        existed = os.path.exists(in_tree)
        res = run(["make", "-C", self.builddir, "dist"])
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        self.tarball = os.path.join(self.top, name)
        shutil.copy2(in_tree, self.tarball)
        if not existed:
            os.unlink(in_tree)

    def rpmbuild(self):
        cmd = ["rpmbuild", "-ta", "-D", "_topdir " + self.top]
        if run(["rpm", "-q", "rpm"]).returncode != 0:
            cmd.append("--nodeps")      # not an RPM-based host
        if not self.with_tools:
            cmd += ["--without", "tools"]
        if os.path.realpath("/bin/sh").endswith("dash"):
            # Debian's rpm runs brp-compress, a bash script, with /bin/sh;
            # under dash it stops at `read -d` and leaves the man pages
            # uncompressed.  Run it with bash, as on Fedora, so that the
            # packages look like Fedora's.
            cmd += ["-D", "__brp_compress bash %{_rpmconfigdir}/brp-compress"
                    " %{_prefix}"]
        cmd.append(self.tarball)
        res = run(cmd, timeout=900)
        with open(self.log, "w") as f:
            f.write(res.stdout + res.stderr)
        return res

    def rpm(self, subpackage=""):
        name = NAME + ("-" + subpackage if subpackage else "")
        found = glob.glob(os.path.join(self.top, "RPMS", "*",
                                       "%s-%s-*.rpm" % (name, self.version)))
        found = [p for p in found
                 if os.path.basename(p).rsplit("-", 2)[0] == name]
        assert len(found) == 1, (name, found)
        return found[0]

    def srpm(self):
        found = glob.glob(os.path.join(self.top, "SRPMS", "*.src.rpm"))
        assert len(found) == 1, found
        return found[0]

    def rpms(self):
        return sorted(glob.glob(os.path.join(self.top, "RPMS", "*", "*.rpm")))


@pytest.fixture(scope="module")
def build(base_dir):
    for tool in ("rpmbuild", "rpmlint", "rpm2cpio", "cpio"):
        if shutil.which(tool) is None:
            pytest.skip("%s is not installed (Debian: apt-get install rpm "
                        "rpmlint rpm2cpio cpio; RHEL: dnf install rpm-build "
                        "rpmlint cpio)" % tool)
    b = Build(base_dir)
    b.make_dist()
    res = b.rpmbuild()
    assert res.returncode == 0, "rpmbuild failed, see %s:\n%s" % (
        b.log, (res.stdout + res.stderr)[-4000:])
    return b


def file_table(rpm):
    """path -> (mode, user, group, flags) of every file in the package."""
    out = run(["rpm", "-qp", "--qf",
               "[%{FILENAMES}\t%{FILEMODES:octal}\t%{FILEUSERNAME}\t"
               "%{FILEGROUPNAME}\t%{FILEFLAGS:fflags}\n]", rpm]).stdout
    table = {}
    for line in out.splitlines():
        path, mode, user, group, flags = line.split("\t")
        if "/.build-id" in path:
            continue            # build ids: the rpm's business, not ours
        table[path] = (int(mode, 8), user, group, flags)
    return table


def extract(rpm, dest):
    os.makedirs(dest, exist_ok=True)
    res = subprocess.run("rpm2cpio '%s' | cpio -idm --quiet" % rpm,
                         shell=True, cwd=dest, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    return dest


def man_path(section, page):
    """A man page's path: compressed as brp-compress leaves it."""
    return "/usr/share/man/man%s/%s.%s.gz" % (section, page, section)


def test_rpmbuild_makes_the_packages(build):
    names = [os.path.basename(p) for p in build.rpms()]
    expected = {NAME}
    if build.with_tools:
        expected.add(NAME + "-tools")
    assert {n.rsplit("-", 2)[0] for n in names} == expected, names
    assert os.path.basename(build.srpm()).startswith(
        "%s-%s-1" % (NAME, build.version))
    with open(build.log) as f:
        log = f.read()
    # %check ran the unit tests and they passed.
    assert "Executing(%check)" in log
    assert re.search(r"^# FAIL: +0$", log, re.M), log[-3000:]
    assert re.search(r"^# PASS: +[1-9]", log, re.M), log[-3000:]


def test_main_package_files_and_modes(build):
    table = file_table(build.rpm())
    moddir = rpm_eval("%{_libdir}") + "/httpd/modules"
    doc = "/usr/share/doc/" + NAME
    expected = {
        moddir + "/mod_negotiate8443.so": (0o100755, ""),
        "/etc/httpd/conf.modules.d/10-negotiate8443.conf": (0o100644, "cn"),
        "/etc/httpd/conf.d/negotiate8443.conf": (0o100644, "cn"),
        "/usr/lib/tmpfiles.d/mod_negotiate8443.conf": (0o100644, ""),
        man_path(8, "mod_negotiate8443"): (0o100644, "d"),
        "/usr/share/" + NAME: (0o40755, ""),
        "/usr/share/%s/pages" % NAME: (0o40755, ""),
        "/usr/share/%s/pages/401.shtml" % NAME: (0o100644, ""),
        doc: (0o40755, ""),
        doc + "/README.md": (0o100644, "d"),
        doc + "/gssproxy.md": (0o100644, "d"),
        doc + "/examples": (0o40755, ""),
        doc + "/examples/gssproxy": (0o40755, ""),
        doc + "/examples/gssproxy/80-httpd.conf": (0o100644, "d"),
        doc + "/examples/httpd.service.d": (0o40755, ""),
        doc + "/examples/httpd.service.d/gssproxy.conf": (0o100644, "d"),
        "/usr/share/licenses/" + NAME: (0o40755, ""),
        "/usr/share/licenses/%s/LICENSE" % NAME: (0o100644, "l"),
    }
    assert set(table) == set(expected), sorted(
        set(table) ^ set(expected))
    for path, (mode, flags) in expected.items():
        assert table[path] == (mode, "root", "root", flags), path


def test_main_package_dependencies(build):
    rpm = build.rpm()
    requires = run(["rpm", "-qp", "--requires", rpm]).stdout.splitlines()
    # The magic number of the httpd the module was built against, with
    # httpd.spec's ISA suffix: from httpd-devel's .mmn, or (on hosts
    # without httpd-devel's macros) from ap_mmn.h.
    incdir = harness.apxs("INCLUDEDIR")
    mmn_file = os.path.join(incdir, ".mmn")
    if os.path.exists(mmn_file):
        with open(mmn_file) as f:
            mmn = f.read().strip()
    else:
        with open(os.path.join(incdir, "ap_mmn.h")) as f:
            major = re.search(r"#define MODULE_MAGIC_NUMBER_MAJOR (\d+)",
                              f.read()).group(1)
        mmn = major + rpm_eval("%{__isa_name}%{__isa_bits}")
    assert "httpd-mmn = " + mmn in requires, requires
    assert "httpd-filesystem" in requires
    assert "mod_ssl" in requires


def test_tools_package_files_and_modes(build):
    if not build.with_tools:
        pytest.skip("this tree does not build n8443ctl yet "
                    "(tools/n8443ctl/Makefile.inc): packages built "
                    "--without tools")
    rpm = build.rpm("tools")
    table = file_table(rpm)
    lic = "/usr/share/licenses/%s-tools" % NAME
    expected = {
        "/usr/sbin/n8443ctl": (0o100755, ""),
        man_path(8, "n8443ctl"): (0o100644, "d"),
        man_path(8, "n8443ctl-probe"): (0o100644, "d"),
        man_path(5, "n8443-site.yaml"): (0o100644, "d"),
        lic: (0o40755, ""),
        lic + "/LICENSE": (0o100644, "l"),
    }
    assert set(table) == set(expected), sorted(set(table) ^ set(expected))
    for path, (mode, flags) in expected.items():
        assert table[path] == (mode, "root", "root", flags), path
    requires = run(["rpm", "-qp", "--requires", rpm]).stdout.splitlines()
    arch = run(["rpm", "-qp", "--qf", "%{ARCH}", rpm]).stdout
    isa = rpm_eval("%{__isa_name}-%{__isa_bits}") if arch != "noarch" else ""
    assert "%s(%s) = %s-1" % (NAME, isa, build.version) in requires, requires
    # Built with ldap (the default): the AD bind is libldap's SASL
    # GSSAPI, which needs Cyrus SASL's GSSAPI plugin at run time.
    assert any(r.split()[0].split("(")[0] == "cyrus-sasl-gssapi"
               for r in requires), requires


def test_packaged_snippets_are_conf_d(build, base_dir):
    """conf.d/ is exactly what the package installs."""
    root = extract(build.rpm(), os.path.join(base_dir, "root-snippets"))
    for name, (path, _) in SNIPPETS.items():
        with open(os.path.join(SRCDIR, "conf.d", name), "rb") as f:
            want = f.read()
        with open(os.path.join(root, path), "rb") as f:
            assert f.read() == want, path
    assert sorted(os.listdir(os.path.join(SRCDIR, "conf.d"))) == \
        sorted(SNIPPETS)


def rpmlint(build, base_dir):
    # The spec rpmbuild used: the one in the tarball.
    with tarfile.open(build.tarball) as tar:
        member = "%s-%s/rpm/%s.spec" % (NAME, build.version, NAME)
        spec = os.path.join(base_dir, "lint", NAME + ".spec")
        os.makedirs(os.path.dirname(spec), exist_ok=True)
        with open(spec, "wb") as f:
            f.write(tar.extractfile(member).read())
    cmd = ["rpmlint", "-r",
           os.path.join(SRCDIR, "rpm", NAME + ".rpmlintrc")]
    if not build.with_tools:
        # The filters are written for the whole set of packages; without
        # -tools some have nothing to filter.
        cmd.append("--ignore-unused-rpmlintrc")
    cmd += [spec] + build.rpms() + [build.srpm()]
    return run(cmd, timeout=300)


def test_rpmlint_finds_no_errors(build, base_dir):
    res = rpmlint(build, base_dir)
    out = res.stdout + res.stderr
    print(out)              # the warnings, for the record (pytest -s)
    errors = [l for l in out.splitlines() if re.search(r": E: ", l)]
    assert errors == [], "\n".join(errors)
    summary = re.search(r"(\d+) errors, (\d+) warnings", out)
    assert summary and summary.group(1) == "0", out
    assert res.returncode == 0, out


def httpd_conf(base, root, extra_includes=(), extra=""):
    """A minimal main configuration around the package's files, laid out
    as on RHEL: ServerRoot with a modules/ link to the module directory."""
    server_root = os.path.join(base, "serverroot")
    os.makedirs(server_root, exist_ok=True)
    moddir = rpm_eval("%{_libdir}") + "/httpd/modules"
    link = os.path.join(server_root, "modules")
    if not os.path.islink(link):
        os.symlink(root + moddir, link)
    binary = harness.httpd_binary()
    builtin = harness.builtin_modules(binary)
    system_moddir = harness.apxs("LIBEXECDIR")
    lines = ["ServerRoot " + server_root,
             "ServerName localhost",
             "PidFile %s/httpd.pid" % server_root,
             "DefaultRuntimeDir " + server_root,
             "ErrorLog %s/error.log" % server_root,
             "Listen 127.0.0.1:%d" % harness.free_port()]
    # As RHEL's conf.modules.d/00-base.conf loads them (the annotated
    # file's SetEnv, SetEnvIf/BrowserMatch, Alias and SSI page need the
    # last four).
    for m in ("mpm_event", "unixd", "authn_core", "authz_core", "authz_user",
              "authz_host", "auth_basic", "ssl", "socache_shmcb",
              "log_config", "env", "setenvif", "alias", "include"):
        if "mod_%s.c" % m in builtin or (m == "mpm_event"
                                         and "event.c" in builtin):
            continue
        lines.append("LoadModule %s_module %s/mod_%s.so"
                     % (m, system_moddir, m))
    lines.append("Include %s/etc/httpd/conf.modules.d/10-negotiate8443.conf"
                 % root)
    lines += ["Include " + p for p in extra_includes]
    lines.append(extra)
    conf = os.path.join(server_root, "httpd.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    return binary, conf


def configtest(binary, conf):
    res = run([binary, "-t", "-f", conf], timeout=60)
    return res.returncode, res.stdout + res.stderr


def uncomment_settings(text):
    """Turn on every setting of the annotated file: lines that start with
    '#' followed by a directive, a section, or four spaces (inside the
    example).  Explanations start with '# ' and stay comments."""
    return re.sub(r"(?m)^#(?=[A-Za-z<]|    )", "", text)


def test_installed_conf_passes_httpd_t(build, base_dir):
    root = extract(build.rpm(), os.path.join(base_dir, "root-httpd"))
    binary, conf = httpd_conf(
        os.path.join(base_dir, "httpd-t-as-installed"), root,
        [root + "/etc/httpd/conf.d/negotiate8443.conf"])
    rc, out = configtest(binary, conf)
    assert rc == 0 and "Syntax OK" in out, out
    # It loaded the packaged module (and nothing else provided it).
    res = run([binary, "-M", "-f", conf])
    assert "negotiate8443_module (shared)" in res.stdout, res.stdout


def annotated_with_settings_on(root, work, certs, keytab):
    """The installed annotated file with every setting on, and the example
    paths replaced by real files of the test."""
    session_key = os.path.join(work, "n8443-session.key")
    with open(session_key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(session_key, 0o600)
    group_map = os.path.join(work, "n8443-groups.map")
    with open(group_map, "w") as f:
        f.write("web-admins S-1-5-21-1-2-3-512\n")
    with open(root + "/etc/httpd/conf.d/negotiate8443.conf") as f:
        text = uncomment_settings(f.read())
    for old, new in (
            ("/etc/pki/tls/certs/portal.example.com.crt", certs.cert),
            ("/etc/pki/tls/certs/lb.example.com.crt", certs.ca),
            ("/etc/pki/tls/private/portal.example.com.key", certs.key),
            ("/etc/httpd/conf/http.keytab", keytab),
            ("/etc/httpd/conf/n8443-session.key", session_key),
            ("/etc/httpd/conf/n8443-groups.map", group_map)):
        assert old in text, old
        text = text.replace(old, new)
    return text


def test_annotated_conf_settings_are_valid(build, base_dir, certs, keytab):
    """Every setting the annotated file shows, turned on at once, is a
    valid configuration for the packaged module; a bad value in it is
    not (so httpd -t did read the module's directives)."""
    root = extract(build.rpm(), os.path.join(base_dir, "root-annotated"))
    work = os.path.join(base_dir, "httpd-t-annotated")
    os.makedirs(work)
    text = annotated_with_settings_on(root, work, certs, keytab)
    on = os.path.join(work, "negotiate8443-on.conf")
    with open(on, "w") as f:
        f.write(text)
    binary, conf = httpd_conf(work, root, [on])
    rc, out = configtest(binary, conf)
    assert rc == 0 and "Syntax OK" in out, out + "\n" + text

    assert "NegotiateUserName principal" in text
    with open(on, "w") as f:
        f.write(text.replace("NegotiateUserName principal",
                             "NegotiateUserName nickname"))
    rc, out = configtest(binary, conf)
    assert rc != 0
    assert "NegotiateUserName: 'nickname' is not one of" in out, out


def test_annotated_conf_shows_every_directive():
    with open(os.path.join(SRCDIR, "conf.d", "negotiate8443.conf")) as f:
        text = f.read()
    shown = set(re.findall(r"(?m)^#\s*(Negotiate\w+)\s", text))
    assert shown == module_directives(), sorted(
        shown ^ module_directives())
    # ... and turns none of them on by itself.
    active = [l for l in text.splitlines()
              if l.strip() and not l.lstrip().startswith("#")]
    assert active == []


def test_man_page_documents_every_directive():
    with open(os.path.join(SRCDIR, "docs", NAME + ".8")) as f:
        text = f.read()
    section = text.split("\n.SH DIRECTIVES\n", 1)[1].split("\n.SH ", 1)[0]
    # Each directive is the tag line of a .TP entry.
    entries = re.findall(r'\n\.TP\n\.B[IR]? "?(Negotiate\w+)', section)
    assert len(entries) == len(set(entries)), entries
    assert set(entries) == module_directives(), sorted(
        set(entries) ^ module_directives())


@pytest.mark.parametrize("page", ["mod_negotiate8443.8", "n8443ctl.8",
                                  "n8443ctl-probe.8", "n8443-site.yaml.5"])
def test_man_page_formats_without_warnings(page):
    path = os.path.join(SRCDIR, "docs", page)
    if not os.path.exists(path):
        pytest.skip("docs/%s does not exist yet" % page)
    if shutil.which("man") is None:
        pytest.skip("man (man-db) is not installed")
    # The way rpmlint's manual-page-warning check formats it.
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    res = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", path],
              env=env)
    assert res.returncode == 0, res.stderr
    assert res.stderr == "", res.stderr
    assert "NAME" in re.sub(".\x08", "", res.stdout)  # no overstrike


def test_tmpfiles_entry_makes_the_runtime_dir(build, base_dir):
    """systemd-tmpfiles, run on the package's entry in a scratch root with
    RHEL's apache user, makes /run/httpd/negotiate8443 0700 apache."""
    if shutil.which("systemd-tmpfiles") is None:
        pytest.skip("systemd-tmpfiles is not installed")
    if os.geteuid() != 0:
        pytest.skip("needs root: the directory is chowned to apache")
    root = extract(build.rpm(), os.path.join(base_dir, "root-tmpfiles"))
    os.makedirs(os.path.join(root, "etc"), exist_ok=True)
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n"
                "apache:x:48:48:Apache:/usr/share/httpd:/sbin/nologin\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\napache:x:48:\n")
    res = run(["systemd-tmpfiles", "--create", "--root=" + root,
               "mod_negotiate8443.conf"])
    assert res.returncode == 0, res.stderr
    st = os.stat(os.path.join(root, "run", "httpd", "negotiate8443"))
    assert (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid) == \
        (oct(0o700), 48, 48)
    # NegotiateDelegationDir: root's, so that the per-vhost directories
    # httpd makes in it cannot be renamed by the apache user.
    st = os.stat(os.path.join(root, "run", "httpd", "negotiate8443",
                              "ccache"))
    assert (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid) == \
        (oct(0o711), 0, 0)
