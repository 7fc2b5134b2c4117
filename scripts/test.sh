#!/usr/bin/env bash
# `npm test`: check (and where it can, install) the system parts the tests drive, build, type-check the
# tests, then run every suite. The keychain suites need a real Secret Service: unless the caller
# already provides one (TOKENWISE_TEST_KEYRING=1), start a private, unlocked gnome-keyring on a
# private D-Bus session with throwaway XDG folders, as on a desktop.
#
# The suites run in two groups at once, each its own mocha:
#  - the keychain suites stop the Secret Service, and even the D-Bus daemon, for seconds at a time,
#    and Chromium talks to that bus: these run one after another, and then the suite that starts 32
#    commands at once; their report is printed once the other group is done;
#  - beside them, everything else in a pool of TOKENWISE_TEST_JOBS (3) mocha workers, none of which
#    uses D-Bus. The suites spend some of their time waiting (on a lock, a timeout, a child's exit):
#    three workers on two cores keep both busy. The largest files start first, so the last one to
#    finish is a small one.
# Extra arguments go to every mocha (e.g. `npm test -- --grep keychain`). A test's deadline is 3 min:
# generous, since the machine running the tests may be shared and busy.
set -euo pipefail
cd "$(dirname "$0")/.."

SERIAL_SUITES=(test/keyring/keyring-store.test.ts test/keyring/acme-keyring.test.ts test/keyring/adopt-login-keyring.test.ts test/keyring/dpop-keyring.test.ts test/keyring/rescue-keyring.test.ts test/e2e/chromium.test.ts test/e2e/many-commands.test.ts)
MOCHA=(npx mocha --no-config --node-option import=tsx --timeout 180000)

if [ "${TOKENWISE_TEST_BUILT:-}" != 1 ]; then
  bash scripts/test-parts.sh
  npm run build --silent
  # Type-check the tests too: a test that no longer compiles against the sources fails here, at once.
  npx tsc -p test/tsconfig.json
  export TOKENWISE_TEST_BUILT=1
fi

if [ "${TOKENWISE_TEST_KEYRING:-}" = 1 ]; then
  serial_report=$(mktemp)
  trap 'rm -f "$serial_report"' EXIT
  "${MOCHA[@]}" "${SERIAL_SUITES[@]}" "$@" >"$serial_report" 2>&1 &
  serial_group=$!
  pool=()
  while IFS= read -r suite; do
    [[ " ${SERIAL_SUITES[*]} " == *" $suite "* ]] || pool+=("$suite")
  done < <(ls -S test/*.test.ts test/e2e/*.test.ts test/unit/*.test.ts)
  status=0
  # The pool never reaches the keychain of the serial group: gnome-keyring aborts when a client dies
  # mid-handshake (its #196), and a pool test that kills a command must not take it down under a
  # keychain test. Without a bus address, a pool test that needed the keychain would fail, not flake.
  env -u DBUS_SESSION_BUS_ADDRESS "${MOCHA[@]}" --parallel --jobs "${TOKENWISE_TEST_JOBS:-3}" "${pool[@]}" "$@" || status=$?
  wait "$serial_group" || status=$?
  cat "$serial_report"
  exit "$status"
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/runtime" "$scratch/data"
chmod 700 "$scratch/runtime" "$scratch/data"
export XDG_RUNTIME_DIR="$scratch/runtime" XDG_DATA_HOME="$scratch/data" TOKENWISE_TEST_KEYRING=1
# gnome-keyring aborts when a client vanishes in the middle of opening a session (GNOME
# gnome-keyring#196), which the tests that SIGKILL the CLI in the middle of a command can trigger. A desktop
# session restarts it, unlocked by PAM; D-Bus activation does the same here (same keyring, same
# password), so one abort does not leave a locked keychain to every later test.
mkdir -p "$scratch/data/dbus-1/services"
printf '%s\n' '[D-BUS Service]' 'Name=org.freedesktop.secrets' \
  "Exec=/bin/sh -c 'printf tokenwise-test | exec $(command -v gnome-keyring-daemon) --unlock --components=secrets --foreground >/dev/null'" \
  >"$scratch/data/dbus-1/services/org.freedesktop.secrets.service"
# The session's dbus-daemon says harmless things on stderr when run as root in a container ("Failed
# to set fd limit", activation of services a desktop would have): keep them out of the test output.
printf '#!/bin/sh\nexec %s "$@" 2>/dev/null\n' "$(command -v dbus-daemon)" >"$scratch/dbus-daemon"
chmod 755 "$scratch/dbus-daemon"
dbus-run-session --dbus-daemon="$scratch/dbus-daemon" -- sh -c 'printf tokenwise-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec bash scripts/test.sh "$@"' sh "$@"
