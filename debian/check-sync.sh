#!/bin/sh
# SPDX-License-Identifier: MIT OR LGPL-2.1
#
# Check that debian/ agrees with the tree, without building anything:
#   - debian/liburing-kmbuf0.symbols (N.symbols for soname .so.N) lists
#     exactly the symbols of src/liburing-kmbuf.map, each with its node's
#     version, plus one line per version node; the symbols of one node
#     share one minimum version, and none is newer than the package version
#     (a dependency on it could never be met);
#   - the soname in the symbols file and the library package's name follow
#     the libtool -version-info in configure.ac (major = current - age);
#   - the version of debian/changelog is AC_INIT's version in configure.ac
#     (optionally followed by ~ or + and a suffix), and it is the version at
#     the top of CHANGELOG; debian/changelog is UNRELEASED exactly while
#     CHANGELOG's top entry says "(unreleased)".
#
# Run by debian/rules before the build, and by "tools/run.sh deb".
# Usage: sh debian/check-sync.sh [SRCDIR]. Exit 0 in sync, 1 not.
set -eu

top=${1:-$(dirname "$0")/..}
map=$top/src/liburing-kmbuf.map
control=$top/debian/control
configure_ac=$top/configure.ac
changelog=$top/CHANGELOG
dch=$top/debian/changelog

fails=0
fail() {
	echo "check-sync: FAIL: $*"
	fails=$((fails + 1))
}

for f in "$map" "$control" "$configure_ac" "$changelog" "$dch"; do
	[ -f "$f" ] || { echo "check-sync: FAIL: $f not found"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-sync.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# --- soname ---------------------------------------------------------------

# The library package and its symbols file are named after the soname's
# major version, current - age of libtool's -version-info.
lt=$(sed -n 's/^AC_SUBST(\[KMBUF_LT_VERSION\], *\[\([0-9]*:[0-9]*:[0-9]*\)\]).*/\1/p' "$configure_ac")
if [ -z "$lt" ]; then
	echo "check-sync: FAIL: no AC_SUBST([KMBUF_LT_VERSION], [c:r:a]) in configure.ac"
	exit 1
fi
major=$(echo "$lt" | awk -F: '{ print $1 - $3 }')
symbols_name=debian/liburing-kmbuf$major.symbols
symbols=$top/$symbols_name
if [ ! -f "$symbols" ]; then
	echo "check-sync: FAIL: no $symbols_name (libtool version $lt: soname liburing-kmbuf.so.$major); rename the library package and its files in debian/"
	exit 1
fi

# --- versions ---------------------------------------------------------------

# AC_INIT([liburing-kmbuf], [kmbuf_major.kmbuf_minor.kmbuf_patch], ...) with
# m4_define([kmbuf_major], [0]) and so on, or a literal version.
m4_value() {
	sed -n "s/^m4_define(\[$1\], *\[\([0-9][0-9]*\)\]).*/\1/p" "$configure_ac"
}
ac_version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$configure_ac")
case $ac_version in
kmbuf_major.kmbuf_minor.kmbuf_patch)
	ac_version=$(m4_value kmbuf_major).$(m4_value kmbuf_minor).$(m4_value kmbuf_patch) ;;
esac
case $ac_version in
[0-9]*.[0-9]*.[0-9]*) ;;
*)
	echo "check-sync: FAIL: cannot read the version from AC_INIT in configure.ac (got '$ac_version')"
	exit 1 ;;
esac

deb_version=$(dpkg-parsechangelog -l "$dch" -S Version)
deb_dist=$(dpkg-parsechangelog -l "$dch" -S Distribution)
case $deb_version in
"$ac_version" | "$ac_version"[~+]*) ;;
*) fail "debian/changelog is at $deb_version, configure.ac at $ac_version: add a debian/changelog entry (dch -v $ac_version)" ;;
esac

# "liburing-kmbuf 0.1.0 (unreleased)" or "liburing-kmbuf 0.1.0 (2027-01-15)"
top_entry=$(sed -n '/^liburing-kmbuf [0-9]/{p;q;}' "$changelog")
cl_version=$(echo "$top_entry" | awk '{ print $2 }')
if [ "$cl_version" != "$ac_version" ]; then
	fail "CHANGELOG's top entry is '$top_entry', configure.ac is at $ac_version"
fi
case $top_entry in
*"(unreleased)"*)
	[ "$deb_dist" = UNRELEASED ] ||
		fail "CHANGELOG says $cl_version is unreleased, debian/changelog targets $deb_dist" ;;
*)
	[ "$deb_dist" != UNRELEASED ] ||
		fail "CHANGELOG says $cl_version is released, debian/changelog is still UNRELEASED" ;;
esac

# The symbols file and the control file name the soname and the package.
header=$(sed -n '1p' "$symbols")
want="liburing-kmbuf.so.$major liburing-kmbuf$major #MINVER#"
[ "$header" = "$want" ] ||
	fail "first line of $symbols_name is '$header', libtool version $lt wants '$want'"
grep -qx "Package: liburing-kmbuf$major" "$control" ||
	fail "debian/control has no package liburing-kmbuf$major (libtool version $lt)"
[ -f "$top/debian/liburing-kmbuf$major.install" ] ||
	fail "no debian/liburing-kmbuf$major.install"

# --- symbols ------------------------------------------------------------------

# name@NODE for each global symbol of the map, and NODE@NODE for each node.
awk '
	/^[[:space:]]*#/ { next }
	/^[[:space:]]*[A-Za-z_][A-Za-z0-9_.]*[[:space:]]*\{/ {
		node = $1; sub(/\{.*/, "", node); section = ""
		print node "@" node
		next
	}
	/^[[:space:]]*\}/ { node = ""; next }
	/^[[:space:]]*global:/ { section = "global"; next }
	/^[[:space:]]*local:/ { section = "local"; next }
	node != "" && section == "global" {
		for (i = 1; i <= NF; i++) {
			sym = $i; gsub(/;/, "", sym)
			if (sym != "")
				print sym "@" node
		}
	}
' "$map" | LC_ALL=C sort >"$tmp/map"

# " name@NODE minver" lines of the symbols file (header, "* Field:" and
# "| alternative" lines left out).
sed -n 's/^ \([^ ]*@[^ ]*\) \([^ ]*\).*/\1 \2/p' "$symbols" >"$tmp/lines"
awk '{ print $1 }' "$tmp/lines" | LC_ALL=C sort >"$tmp/listed"

dups=$(uniq -d "$tmp/listed" | tr '\n' ' ')
[ -z "$dups" ] || fail "listed more than once in $symbols_name: $dups"
new=$(LC_ALL=C comm -23 "$tmp/map" "$tmp/listed" | tr '\n' ' ')
gone=$(LC_ALL=C comm -13 "$tmp/map" "$tmp/listed" | tr '\n' ' ')
if [ -n "$new" ]; then
	fail "in src/liburing-kmbuf.map but not in $symbols_name: $new"
	echo "check-sync:   add ' name@NODE VERSION' for each, VERSION the first package version that has it ($deb_version if that is this one), and ' NODE@NODE VERSION' for a new node"
fi
if [ -n "$gone" ]; then
	fail "in $symbols_name but not in src/liburing-kmbuf.map: $gone"
	echo "check-sync:   a symbol removed from the library breaks its ABI: that needs a new soname, not an edit here"
fi

# One minimum version per node, and never one newer than this package.
awk '{ node = $1; sub(/.*@/, "", node); print node, $2 }' "$tmp/lines" |
	LC_ALL=C sort -u >"$tmp/node-versions"
mixed=$(awk '{ print $1 }' "$tmp/node-versions" | uniq -d | tr '\n' ' ')
[ -z "$mixed" ] ||
	fail "symbols of one version node with different minimum versions in $symbols_name: $mixed"
while read -r node minver; do
	if dpkg --compare-versions "$minver" gt "$deb_version"; then
		fail "$node symbols need version $minver, newer than the package ($deb_version): no package could satisfy that dependency"
	fi
done <"$tmp/node-versions"

n_map=$(wc -l <"$tmp/map")
if [ "$fails" -ne 0 ]; then
	echo "check-sync: $fails problem(s)"
	exit 1
fi
echo "check-sync: $n_map symbols and nodes of the map = $symbols_name; version $deb_version ($deb_dist) = configure.ac = CHANGELOG; soname liburing-kmbuf.so.$major"
