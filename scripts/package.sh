#!/usr/bin/env bash
# Builds the Debian package dist-pkg/aavip_VERSION_ARCH.deb from this checkout's build (`npm run
# package` builds first, then runs this). Plain dpkg-deb over a staging tree: npm and node-gyp
# build the program, and this lays the result out where Debian expects it:
#   /usr/lib/aavip          dist/src, production node_modules, the native addon, agent templates
#   /usr/bin/aavip          a wrapper running /usr/bin/node on /usr/lib/aavip
#   /usr/lib/ocf/resource.d/aavip   the OCF agents, pointing at /usr/lib/aavip
#   /lib/systemd/system/aavip.service, /etc/aavip/cluster.yaml (conffile), aavip(1),
#   /usr/share/doc/aavip (README, copyright, changelog, examples)
# The maintainer is DEBFULLNAME <DEBEMAIL>, else git's user.name <user.email>, else the author of
# the last commit (a fresh clone on a build machine has no git identity).
set -euo pipefail
cd "$(dirname "$0")/.."

for f in dist/src/cli/main.js native/build/Release/aavip_native.node node_modules/commander/package.json; do
  [ -e "$f" ] || { echo "package: $f is missing: run npm ci and npm run build first" >&2; exit 1; }
done
for tool in dpkg-deb dpkg-shlibdeps strip; do
  command -v "$tool" >/dev/null || { echo "package: $tool is missing (Debian packages dpkg-dev, binutils)" >&2; exit 1; }
done

upstream=$(node -p "require('./package.json').version")
# The Debian revision of this packaging of that version (the changelog is then changelog.Debian).
version=$upstream-${DEB_REVISION:-1}
arch=$(dpkg --print-architecture)
name=${DEBFULLNAME:-$(git config user.name || git log -1 --format=%an 2>/dev/null || true)}
email=${DEBEMAIL:-$(git config user.email || git log -1 --format=%ae 2>/dev/null || true)}
[ -n "$name" ] && [ -n "$email" ] || { echo "package: set DEBFULLNAME and DEBEMAIL (the Maintainer field)" >&2; exit 1; }
maintainer="$name <$email>"
# The same source gives the same package: timestamps from the last commit.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

out=dist-pkg
stage=$out/root
lib=$stage/usr/lib/aavip
doc=$stage/usr/share/doc/aavip
rm -rf "$stage" "$out"/aavip_*.deb
mkdir -p "$lib/dist" "$lib/native/build/Release" "$stage/usr/bin" "$stage/lib/systemd/system" \
  "$stage/etc/aavip" "$doc/examples" "$stage/usr/share/man/man1" "$stage/DEBIAN"

# The program: package.json marks the root (src/paths.ts looks for it beside native/) and holds the
# version; `aavip bench` runs dist/bench; source maps point at TypeScript that is not shipped.
cp package.json "$lib/"
cp -r dist/src dist/bench "$lib/dist/"
find "$lib/dist" -name '*.map' -delete
rm "$lib/dist/src/cli/manpage-main.js"
cp native/build/Release/aavip_native.node "$lib/native/build/Release/"
cp -r agents "$lib/agents"

# Production dependencies: this checkout's node_modules (raw-socket already built against this
# Node), pruned of the dev tools by npm itself.
cp package-lock.json "$lib/"
cp -a node_modules/. "$lib/node_modules/"
(cd "$lib" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
rm "$lib/package-lock.json"
nm=$lib/node_modules
# Headers for building addons, type declarations, npm's and the tools' caches (.bin, .vite...),
# the build's intermediates, other machines' prebuilt addons.
rm -rf "$nm/node-addon-api" "$nm/nan" "$nm"/.[!.]*
find "$nm" -depth -type d -name '@types' -exec rm -rf {} +
find "$nm/raw-socket/build" -mindepth 1 ! -path '*/build/Release' ! -name raw.node -prune -exec rm -rf {} +
find "$nm/netlink/prebuilds" -mindepth 1 -maxdepth 1 ! -name "linux-$(node -p process.arch)" -exec rm -rf {} +
# The licenses go into the copyright file before the modules' documentation goes.
copyright=$(scripts/package-copyright.sh "$nm" "$maintainer")
# What the modules carry for their own repositories and web sites, as Debian's Node packages drop
# it: dotfiles, tests, docs, images, licenses (now in copyright), TypeScript declarations and source
# maps. Nothing here is loaded at run time.
find "$nm" -depth -name '.*' -exec rm -rf {} +
find "$nm" -depth -type d -regextype posix-extended -regex '.*/node_modules/(@[^/]+/)?[^/@]+/(test|tests|docs|docsify|benchmarks?|bench|examples?|fixtures?)' -exec rm -rf {} +
find "$nm" -type f \( -iname '*.md' -o -iname '*.html' -o -iname '*.png' -o -iname 'licen[cs]e' -o -iname 'licen[cs]e.txt' -o -name '*.sh' -o -name '*.ts' -o -name '*.map' \) -delete
find "$nm" -depth -type d -empty -delete
find "$lib" -name '*.node' -exec strip --strip-unneeded --remove-section=.comment --remove-section=.note {} +

# The command, the agents, the unit, the configuration.
cat > "$stage/usr/bin/aavip" <<'EOF'
#!/bin/sh
# aavip as its Debian package installs it: Debian's Node on /usr/lib/aavip.
exec /usr/bin/node /usr/lib/aavip/dist/src/cli/main.js "$@"
EOF
node dist/src/cli/main.js agents install --prefix "$stage" --node /usr/bin/node --package-root /usr/lib/aavip 2>/dev/null
cp conf/aavip.service "$stage/lib/systemd/system/"
cp conf/cluster.yaml "$stage/etc/aavip/"
echo /etc/aavip/cluster.yaml > "$stage/DEBIAN/conffiles"

# Documentation: README, examples, the man page from the command tree, copyright, changelog.
cp README.md "$doc/"
cp conf/* "$doc/examples/"
rm "$doc/examples/aavip.service"
node dist/src/cli/manpage-main.js | gzip -9n > "$stage/usr/share/man/man1/aavip.1.gz"
printf '%s\n' "$copyright" > "$doc/copyright"
date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
printf 'aavip (%s) unstable; urgency=medium\n\n  * Built from the aavip source tree at %s.\n\n -- %s  %s\n' \
  "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$maintainer" "$date" | gzip -9n > "$doc/changelog.Debian.gz"

# purge removes the state aavip keeps (incarnation numbers); the conffile is dpkg's to remove.
cat > "$stage/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
	rm -rf /var/lib/aavip
fi
EOF

# Permissions as Debian wants them, whatever this checkout's umask made.
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f -exec chmod 0644 {} +
chmod 0755 "$stage/usr/bin/aavip" "$stage"/usr/lib/ocf/resource.d/aavip/* "$stage/DEBIAN/postrm"
# Scripts executable, as npm makes its bins (the agent templates, kept for `aavip agents install`, too).
find "$lib" -type f -exec sh -c 'for f; do [ "$(head -c2 "$f")" = "#!" ] && chmod 0755 "$f"; done; true' sh {} +

# Shared libraries the addons link (libnftables, libstdc++...), as dpkg-shlibdeps finds them.
shlib_dir=$(mktemp -d)
trap 'rm -rf "$shlib_dir"' EXIT
mkdir "$shlib_dir/debian"
printf 'Source: aavip\n\nPackage: aavip\nArchitecture: any\n' > "$shlib_dir/debian/control"
nodes=$(find "$PWD/$lib" -name '*.node')
# shellcheck disable=SC2086
shlibs=$(cd "$shlib_dir" && dpkg-shlibdeps -O $(printf -- '-e%s ' $nodes) 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
# raw-socket is a NAN addon, built for this Node's ABI: the same major release.
major=$(node -p 'process.versions.node.split(".")[0]')

(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
cat > "$stage/DEBIAN/control" <<EOF
Package: aavip
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: nodejs (>= $major), nodejs (<< $((major + 1))), nftables, iproute2, kmod, $shlibs
Recommends: conntrack
Suggests: iptables, arptables, ipvsadm, pacemaker, resource-agents
Section: net
Priority: optional
Description: active/active virtual IPs for Linux
 Several Linux nodes carry the same virtual IP and the same multicast MAC;
 each node's kernel hashes every packet into one of B buckets (nftables
 jhash, iptables CLUSTERIP or xt_cluster) and accepts only the buckets it
 owns, so no node sits in another's packet path.
 .
 An embedded, authenticated membership moves a dead node's buckets to the
 survivors, and an ldirectord-compatible health checker sets the IPVS
 weights of the real servers behind the VIP. OCF resource agents
 (ocf:aavip:vip, ocf:aavip:ldirectord) serve Pacemaker clusters.
EOF

deb=$out/aavip_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
