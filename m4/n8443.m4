dnl Build-environment probes for mod_negotiate8443.  Each one fails at
dnl configure time with a message that names the package to install, so a
dnl missing dependency never turns into a confusing compiler error.

dnl N8443_APXS: find apxs (--with-apxs=PATH or APXS=PATH) and take httpd's
dnl include directory, compiler flags and module directory from it.  Nothing
dnl about the layout (Debian, RHEL, a source build) is assumed.
AC_DEFUN([N8443_APXS], [
  AC_ARG_WITH([apxs],
    [AS_HELP_STRING([--with-apxs=PATH], [path to apxs (default: search PATH)])],
    [APXS="$withval"], [])
  AC_ARG_VAR([APXS], [httpd's apxs tool])
  AS_IF([test -z "$APXS"], [AC_PATH_PROGS([APXS], [apxs apxs2], [],
                                          [$PATH:/usr/sbin:/usr/bin])])
  AS_IF([test -z "$APXS" || ! test -x "$APXS"],
        [AC_MSG_ERROR([apxs not found: install httpd's development package (apache2-dev / httpd-devel) or pass --with-apxs=PATH])])
  HTTPD_INCLUDEDIR=`$APXS -q INCLUDEDIR`
  HTTPD_CFLAGS="-I$HTTPD_INCLUDEDIR `$APXS -q CFLAGS` `$APXS -q EXTRA_CPPFLAGS 2>/dev/null`"
  APR_CONFIG=`$APXS -q APR_CONFIG 2>/dev/null`
  APU_CONFIG=`$APXS -q APU_CONFIG 2>/dev/null`
  AS_IF([test -n "$APR_CONFIG" && test -x "$APR_CONFIG"],
        [HTTPD_CFLAGS="$HTTPD_CFLAGS `$APR_CONFIG --includes --cppflags`"
         APR_LIBS=`$APR_CONFIG --link-ld --libs`],
        [PKG_CHECK_MODULES([APR], [apr-1])
         HTTPD_CFLAGS="$HTTPD_CFLAGS $APR_CFLAGS"])
  AS_IF([test -n "$APU_CONFIG" && test -x "$APU_CONFIG"],
        [HTTPD_CFLAGS="$HTTPD_CFLAGS `$APU_CONFIG --includes`"
         APU_LIBS=`$APU_CONFIG --link-ld --libs`],
        [PKG_CHECK_MODULES([APU], [apr-util-1])
         HTTPD_CFLAGS="$HTTPD_CFLAGS $APU_CFLAGS"])
  AC_SUBST([APR_LIBS])
  AC_SUBST([APU_LIBS])
  AC_SUBST([HTTPD_CFLAGS])
  AC_ARG_WITH([moddir],
    [AS_HELP_STRING([--with-moddir=DIR], [where to install the module (default: apxs LIBEXECDIR)])],
    [moddir="$withval"], [moddir=`$APXS -q LIBEXECDIR`])
  AC_SUBST([moddir])
  HTTPD_BIN="`$APXS -q SBINDIR`/`$APXS -q TARGET`"
  AC_SUBST([HTTPD_BIN])
  save_CPPFLAGS="$CPPFLAGS"
  CPPFLAGS="$CPPFLAGS $HTTPD_CFLAGS"
  AC_CHECK_HEADER([httpd.h], [],
    [AC_MSG_ERROR([httpd.h not found under $HTTPD_INCLUDEDIR: install apache2-dev / httpd-devel])])
  CPPFLAGS="$save_CPPFLAGS"
])

dnl N8443_KRB5: MIT Kerberos through krb5-config (gssapi and krb5).
AC_DEFUN([N8443_KRB5], [
  dnl Not KRB5_CONFIG: that is MIT's own variable for the krb5.conf path,
  dnl often set in the environment of people who run this.
  AC_ARG_VAR([KRB5CONFIG], [MIT Kerberos' krb5-config program])
  AS_IF([test -z "$KRB5CONFIG"],
        [AC_PATH_PROGS([KRB5CONFIG], [krb5-config.mit krb5-config], [],
                       [$PATH:/usr/kerberos/bin])])
  AS_IF([test -z "$KRB5CONFIG"],
        [AC_MSG_ERROR([krb5-config not found: install MIT Kerberos' development package (libkrb5-dev / krb5-devel)])])
  AS_IF([$KRB5CONFIG --vendor 2>/dev/null | grep -q Massachusetts], [],
        [AC_MSG_ERROR([$KRB5CONFIG is not MIT Kerberos; mod_negotiate8443 needs MIT krb5 >= 1.15])])
  KRB5_CFLAGS=`$KRB5CONFIG --cflags gssapi`
  dnl --libs gssapi already includes libkrb5; krb5-config takes one library.
  KRB5_LIBS=`$KRB5CONFIG --libs gssapi`
  AC_SUBST([KRB5_CFLAGS])
  AC_SUBST([KRB5_LIBS])
  save_CPPFLAGS="$CPPFLAGS"; save_LIBS="$LIBS"
  CPPFLAGS="$CPPFLAGS $KRB5_CFLAGS"; LIBS="$LIBS $KRB5_LIBS"
  AC_CHECK_HEADERS([gssapi/gssapi_ext.h gssapi/gssapi_krb5.h], [],
    [AC_MSG_ERROR([GSS-API headers missing: install libkrb5-dev / krb5-devel])])
  AC_CHECK_FUNCS([gss_acquire_cred_from gss_localname krb5_kt_have_content], [],
    [AC_MSG_ERROR([MIT krb5 too old: $ac_func missing (need >= 1.15)])])
  CPPFLAGS="$save_CPPFLAGS"; LIBS="$save_LIBS"
])

dnl N8443_PKG(VAR, MODULES, WHAT): a pkg-config dependency with a clear error.
AC_DEFUN([N8443_PKG], [
  PKG_CHECK_MODULES([$1], [$2], [],
    [AC_MSG_ERROR([$3 not found by pkg-config ($2): install it])])
])
