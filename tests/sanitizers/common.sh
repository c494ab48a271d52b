# common.sh - shared by run-asan and run-valgrind (sourced, not run).
#
# The source tree is usually configured in place (./configure && make), and
# automake refuses a VPATH build from a configured tree ("source directory
# already configured").  So the sources that git knows about (tracked, and
# untracked but not ignored: new files someone has not committed yet) are
# copied to $work/src, the build system is regenerated there, and the
# sanitizer build is a VPATH build in $work/obj.  Nothing in the source
# tree is written.

san_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

san_log() { printf '%s: %s\n' "$san_name" "$*" >&2; }

# san_export_tree DEST: the working tree's sources: what git tracks, and
# what it does not track yet but does not ignore (new files someone has not
# added yet), as they are on disk now.  Never build products, so that a
# VPATH make does not find a stale binary in the source copy and think its
# target is up to date.  Without git (a release tarball), everything but
# autotools' and make's output.
san_export_tree() {
    local dest=$1
    rm -rf "$dest"
    mkdir -p "$dest"
    if git -C "$san_top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$san_top" && git ls-files -z -c -o --exclude-standard) |
            (cd "$san_top" && tar --null -T - --ignore-failed-read \
                -cf - 2>/dev/null) |
            (cd "$dest" && tar xf -)
    else
        (cd "$san_top" && tar -cf - \
            --exclude=./autom4te.cache --exclude=./config.status \
            --exclude=./config.log --exclude=./config.h --exclude=./stamp-h1 \
            --exclude=./libtool --exclude=./Makefile \
            --exclude=.libs --exclude=.deps --exclude=.dirstamp \
            --exclude='*.o' --exclude='*.lo' --exclude='*.la' \
            --exclude='*.so' --exclude=__pycache__ --exclude=.pytest_cache \
            .) | (cd "$dest" && tar xf -)
    fi
}

# san_build WORK CONFIGURE-ARGS...: export, autogen, VPATH configure, make
# (everything: the suite also runs n8443ctl from the build directory).
# Sets san_builddir.  Build output goes to $WORK/build.log.
san_build() {
    local work=$1
    shift
    san_builddir=$work/obj
    if [ "${N8443_SAN_REUSE:-0}" = 1 ] \
        && [ -f "$san_builddir/.libs/mod_negotiate8443.so" ] \
        && [ -x "$san_builddir/n8443ctl" ]; then
        san_log "reusing the build in $san_builddir (N8443_SAN_REUSE=1)"
        return 0
    fi
    san_log "building in $san_builddir (configure $*)"
    san_export_tree "$work/src"
    rm -rf "$san_builddir"
    mkdir -p "$san_builddir"
    if ! { (cd "$work/src" && ./autogen.sh) \
           && (cd "$san_builddir" && "$work/src/configure" "$@") \
           && make -C "$san_builddir" -j"$(nproc)"; } \
           >"$work/build.log" 2>&1; then
        san_log "build failed; last lines of $work/build.log:"
        tail -n 30 "$work/build.log" >&2
        return 1
    fi
    if [ ! -f "$san_builddir/.libs/mod_negotiate8443.so" ] \
        || [ ! -x "$san_builddir/n8443ctl" ]; then
        san_log "no module or no n8443ctl in $san_builddir"
        return 1
    fi
}

# san_pytest JUNIT-XML ARGS...: the integration suite from the source tree
# (its test files), against the module in $san_builddir.  Prints pytest's
# own output; returns pytest's status.
san_pytest() {
    local junit=$1
    shift
    local py=/usr/bin/python3
    [ -x "$py" ] || py=python3
    if [ $# -eq 0 ]; then
        set -- "$san_top/tests/integration"
    fi
    (cd "$san_top" && N8443_BUILDDIR="$san_builddir" \
        N8443_MODULE="$san_builddir/.libs/mod_negotiate8443.so" \
        "$py" -m pytest -p no:cacheprovider -q -rfEs \
        -o junit_family=xunit2 --junitxml="$junit" "$@")
}

# san_junit_counts FILE: "passed failed skipped" from a junit XML file.
san_junit_counts() {
    /usr/bin/python3 - "$1" <<'PY' 2>/dev/null || echo "0 1 0"
import sys
import xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
s = r if r.tag == "testsuite" else r.find("testsuite")
t, f, e, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors",
                                          "skipped"))
print(t - f - e - sk, f + e, sk)
PY
}
