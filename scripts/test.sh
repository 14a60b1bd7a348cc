#!/usr/bin/env bash
# Run edgenet's test suite on a fresh machine: creates .venv, installs edgenet with the workstation,
# test and fleet (ansible-core) extras, installs the system packages the ssh and browser tiers use (when root on Debian),
# then runs pytest. Extra arguments go to pytest (e.g. ./scripts/test.sh -m "not tensorflow").
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need_apt+=(openssh-client)
command -v rsync >/dev/null 2>&1 || need_apt+=(rsync)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# The arm64 tier (tests/test_arm64_board.py) builds its emulated board from Debian packages (scripts/arm64-board.sh).
[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || need_apt+=(debian-archive-keyring)
command -v dpkg-deb >/dev/null 2>&1 || need_apt+=(dpkg)
# The ssh tests deploy into a venv made by the system python3 (the "board"): it needs venv/ensurepip.
/usr/bin/python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "note: ${need_apt[*]} missing and not root: the tests that need them will skip" >&2
  fi
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[host,test,fleet]'
exec .venv/bin/python -m pytest "$@"
