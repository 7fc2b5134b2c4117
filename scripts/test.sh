#!/usr/bin/env bash
# `npm test`: check (and where it can, install) the system parts the tests drive, build, then run
# every suite. The keychain suites need a real Secret Service: unless the caller already provides one
# (TOKENWISE_TEST_KEYRING=1), start a private, unlocked gnome-keyring on a private D-Bus session with
# throwaway XDG folders, as on a desktop.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-parts.sh
npm run build --silent

if [ "${TOKENWISE_TEST_KEYRING:-}" = 1 ]; then
  exec npx mocha "$@"
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/runtime" "$scratch/data"
chmod 700 "$scratch/runtime" "$scratch/data"
export XDG_RUNTIME_DIR="$scratch/runtime" XDG_DATA_HOME="$scratch/data" TOKENWISE_TEST_KEYRING=1
# gnome-keyring aborts when a client vanishes in the middle of opening a session (GNOME
# gnome-keyring#196), which the tests that SIGKILL the CLI at random points can trigger. A desktop
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
# Type-check the tests too: a test that no longer compiles against the sources fails here, at once.
npx tsc -p test/tsconfig.json
dbus-run-session --dbus-daemon="$scratch/dbus-daemon" -- sh -c 'printf tokenwise-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec npx mocha "$@"' sh "$@"
