#!/bin/sh
# An emulated arm64 board for tests/test_arm64_board.py: Debian 12's arm64 Python 3.11 (the Python of
# Raspberry Pi OS Bookworm 64-bit) run by qemu-user's qemu-aarch64 10.0 from Debian 13.
#
#   scripts/arm64-board.sh DIR      # builds DIR once (~30 s, ~90 MB of .debs, kept in DIR/debs), then no-op
#   DIR/bin/python3 -c 'import platform; print(platform.machine())'     # -> aarch64
#
# Nothing is installed or registered on this machine (no dpkg --add-architecture, no binfmt_misc): the
# packages are downloaded with apt-get into DIR and unpacked with dpkg -x. DIR/bin/python3 is a wrapper that
# starts the arm64 python3.11 under qemu-aarch64 with argv[0] set to its own path, so sys.executable is the
# wrapper, subprocesses of the emulated Python (venv, pip, edgenet's own) are emulated too, and a venv made
# by it runs emulated. qemu 10.0 because ai-edge-litert crashes under Debian 12's qemu 7.2.
set -eu
W=${1:?usage: scripts/arm64-board.sh DIR}
mkdir -p "$W"
W=$(cd "$W" && pwd)
[ -f "$W/.complete" ] && exit 0

mkdir -p "$W/apt/lists/partial" "$W/debs/partial" "$W/apt/etc"
: > "$W/apt/status"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || { echo "arm64-board: $keyring missing (apt-get install debian-archive-keyring)" >&2; exit 1; }
# The Debian mirror this machine's apt already uses.
mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | grep -v security | head -n1 | awk '{print $2}')
[ -n "$mirror" ] || mirror=$(grep -hs '^deb ' /etc/apt/sources.list | grep -v security | head -n1 | awk '{print $2}')
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
security=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | grep security | head -n1 | awk '{print $2}')
[ -n "$security" ] || security="${mirror%/debian}/debian-security"
cat > "$W/apt/etc/sources.list" <<EOF
deb [signed-by=$keyring] $mirror bookworm main
deb [signed-by=$keyring] $security bookworm-security main
deb [signed-by=$keyring] $mirror trixie main
EOF
cat > "$W/apt/apt.conf" <<EOF
Dir::Etc::sourcelist "$W/apt/etc/sources.list";
Dir::Etc::sourceparts "-";
Dir::State::Lists "$W/apt/lists";
Dir::State::status "$W/apt/status";
Dir::Cache "$W/apt";
Dir::Cache::archives "$W/debs";
APT::Architecture "arm64";
APT::Architectures { "arm64"; "amd64"; };
APT::Default-Release "bookworm";
Debug::NoLocking "true";
APT::Sandbox::User "$(id -un)";
EOF
export APT_CONFIG="$W/apt/apt.conf"
apt-get -qq update
# qemu-user is statically linked in trixie: its qemu-aarch64 alone is kept.
(cd "$W/debs" && apt-get -qq download qemu-user:amd64/trixie)
tmp=$(mktemp -d)
dpkg-deb --fsys-tarfile "$W"/debs/qemu-user_*_amd64.deb | tar -x -C "$tmp" ./usr/bin/qemu-aarch64
mv "$tmp/usr/bin/qemu-aarch64" "$W/qemu-aarch64"
rm -rf "$tmp"
# The arm64 python3.11 with venv/ensurepip, its dependency closure resolved against an empty status file.
apt-get -qq -y --download-only --no-install-recommends install python3.11 python3.11-venv libstdc++6 libgcc-s1 \
  ca-certificates >/dev/null
rm -rf "$W/sysroot"
mkdir -p "$W/sysroot"
for deb in "$W"/debs/*_arm64.deb "$W"/debs/*_all.deb; do dpkg -x "$deb" "$W/sysroot"; done
mkdir -p "$W/bin"
# Paths from the wrapper's own location: the board can be copied (cp -al) where another user reaches it.
cat > "$W/bin/python3" <<'EOF'
#!/bin/sh
w=$(dirname "$(dirname "$(readlink -f "$0")")")
exec "$w/qemu-aarch64" -0 "$0" -L "$w/sysroot" "$w/sysroot/usr/bin/python3.11" "$@"
EOF
chmod 755 "$W/bin/python3"
ln -sf python3 "$W/bin/python3.11"
rm -rf "$W/apt/lists"  # 80 MB of package lists; the .debs stay for a rebuild
"$W/bin/python3" -c 'import platform, struct, venv, ensurepip; print("arm64 board:", platform.machine(), 8 * struct.calcsize("P"), "bit, Python", platform.python_version())'
"$W/qemu-aarch64" --version | head -n1
touch "$W/.complete"
