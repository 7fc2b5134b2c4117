#!/usr/bin/env bash
# The system parts `npm test` drives for real, checked before anything runs:
#
#   gnome-keyring-daemon   the Secret Service the keychain tests talk to        (gnome-keyring)
#   dbus-run-session       the private D-Bus session it runs on                  (dbus-x11)
#   /usr/bin/chromium      the browser playwright-core drives in the login test  (chromium)
#   Liberation fonts       text for the pages that browser renders               (fonts-liberation)
#   glewlwyd, sqlite3      the second test issuer, written apart from the first  (glewlwyd, sqlite3)
#
# Glewlwyd's package asks debconf which database to set up; the preseed below answers "none" (the
# tests give it a private sqlite file), and dbconfig-no-thanks keeps dbconfig from asking again.
#
# All present: nothing is printed, nothing is run (a few file tests; no apt, no dpkg).
# Some missing, and we are root with apt-get (a container, CI): one
# line per package, one `apt-get update`, one `apt-get install` of exactly those packages (plus
# dbus-x11 with gnome-keyring when no session bus is installed: see apt_packages), its output in a
# log that is shown only when it fails. Otherwise: what is missing, the one command that installs
# it, and exit 1, so the suite stops before it starts. Nothing is ever skipped.
#
# Ubuntu ships Chromium only as a snap (its deb is a shim that installs the snap), which browser
# drivers fail to connect to, and a test script has no business installing snaps: there it prints
# the command that installs Playwright's own Chromium and links it to /usr/bin/chromium.
#
# Test-only: TOKENWISE_TEST_PARTS_ROOT is a folder that stands in for / when looking for files
# (/usr/bin/chromium, the fonts, /etc/os-release). With a PATH that hides the binaries it lets the
# missing paths be tried on a machine that has everything.
set -euo pipefail

root=${TOKENWISE_TEST_PARTS_ROOT:-}
chromium=$root/usr/bin/chromium
font=$root/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf

# A Chromium playwright-core can drive: an executable that is not a snap. Ubuntu's shim is a script
# that runs /snap/bin/chromium; a symlink may point into /snap. Read a script only (the real thing may
# be a 250 MB binary behind a symlink).
chromium_usable() {
  [ -x "$chromium" ] && [ -f "$chromium" ] || return 1
  if [ -L "$chromium" ]; then
    case $(readlink -f "$chromium") in /snap/*) return 1 ;; esac
  fi
  local magic=
  IFS= read -r -n 2 magic <"$chromium" || true
  [ "$magic" != '#!' ] || ! grep -qs '/snap/' "$chromium"
}

# Fills `missing` with the Debian packages whose parts are absent.
check() {
  missing=()
  command -v gnome-keyring-daemon >/dev/null || missing+=(gnome-keyring)
  command -v dbus-run-session >/dev/null || missing+=(dbus-x11)
  chromium_usable || missing+=(chromium)
  [ -f "$font" ] || missing+=(fonts-liberation)
  command -v glewlwyd >/dev/null || [ -x "$root/usr/bin/glewlwyd" ] || missing+=(glewlwyd)
  command -v sqlite3 >/dev/null || missing+=(sqlite3)
}

GLEWLWYD_PRESEED='glewlwyd glewlwyd/config_type select No configuration'

check
[ ${#missing[@]} -eq 0 ] && exit 0

# --- Something is missing: from here on time does not matter. ---

say() { printf 'npm test: %s\n' "$*" >&2; }

part_of() {
  case $1 in
    gnome-keyring) echo 'gnome-keyring-daemon, the Secret Service the keychain tests use' ;;
    dbus-x11) echo 'the D-Bus session bus (dbus-run-session) gnome-keyring runs on' ;;
    chromium)
      if [ -e "$chromium" ]; then
        echo "$chromium, the browser the login test drives: the one there is a snap or not executable"
      else
        echo "$chromium, the browser the login test drives"
      fi
      ;;
    fonts-liberation) echo 'Liberation fonts, for the pages that browser renders' ;;
    glewlwyd) echo 'glewlwyd, the second issuer the tests sign in at' ;;
    sqlite3) echo 'sqlite3, which sets up the database of that issuer' ;;
  esac
}

ubuntu=false
# Ubuntu itself (its flavours too): derivatives such as Mint build a real chromium deb.
if grep -Eqs '^ID="?ubuntu"?$' "$root/etc/os-release"; then ubuntu=true; fi

# The packages apt is to install for what `check` found missing: all of them, except Chromium on
# Ubuntu. gnome-keyring depends on "default-dbus-session-bus | dbus-session-bus", and left to itself
# apt picks dbus-user-session, which pulls in systemd: dbus-x11 is the session bus these tests use.
apt_packages() {
  local package with_bus=false
  for package in "${missing[@]}"; do
    if [ "$package" = chromium ] && $ubuntu; then continue; fi
    [ "$package" = dbus-x11 ] && with_bus=true
    echo "$package"
    [ "$package" != glewlwyd ] || echo dbconfig-no-thanks
  done
  case " ${missing[*]} " in
    *' gnome-keyring '*)
      if ! $with_bus && ! dpkg-query -W -f='${db:Status-Abbrev}\n' dbus-x11 dbus-user-session 2>/dev/null | grep -q '^ii'; then
        echo dbus-x11
      fi
      ;;
  esac
}

# Only root installs by itself. An ordinary user's test run never calls sudo, even a passwordless one:
# changing the machine is theirs to decide, so it prints the one command and stops.
if [ "$(id -u)" = 0 ]; then sudo=; else sudo='sudo '; fi
can_install=false
if command -v apt-get >/dev/null && [ -z "$sudo" ]; then can_install=true; fi

packages=($(apt_packages))
if $can_install && [ ${#packages[@]} -gt 0 ]; then
  for package in "${packages[@]}"; do
    say "installing $package: $(part_of "$package")"
  done
  logs=$(mktemp -d)
  log=$logs/apt.log
  apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
  preseed=(debconf-set-selections)
  if ! { echo "$GLEWLWYD_PRESEED" | "${preseed[@]}" && "${apt[@]}" update -qq && "${apt[@]}" install -y -qq --no-install-recommends "${packages[@]}"; } </dev/null >"$log" 2>&1; then
    say "apt-get failed; the end of its log ($log):"
    tail -n 20 "$log" | sed 's/^/  /' >&2
    say "to try again by hand: echo '$GLEWLWYD_PRESEED' | ${sudo}debconf-set-selections && ${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${packages[*]}"
    exit 1
  fi
  rm -rf "$logs"
  check
  [ ${#missing[@]} -eq 0 ] && exit 0
  packages=($(apt_packages))
  [ ${#packages[@]} -eq 0 ] || say "still missing after apt-get install: ${packages[*]}"
else
  for package in "${packages[@]}"; do
    say "missing $(part_of "$package") (Debian package $package)"
  done
  case " ${missing[*]} " in *' chromium '*) $ubuntu && say "missing $(part_of chromium)" ;; esac
  if ! command -v apt-get >/dev/null; then
    say "this machine has no apt-get: install those with its package manager, then run npm test again."
    exit 1
  fi
  [ -z "$sudo" ] || [ ${#packages[@]} -eq 0 ] || say "not root, so nothing is installed for you."
fi

# --- Still missing: the one command that installs it. ---

commands=()
if [ ${#packages[@]} -gt 0 ]; then
  preseed=
  case " ${packages[*]} " in *' glewlwyd '*) preseed="echo '$GLEWLWYD_PRESEED' | ${sudo}debconf-set-selections && " ;; esac
  commands+=("${preseed}${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${packages[*]}")
fi
case " ${missing[*]} " in
  *' chromium '*)
    if $ubuntu; then
      say "Ubuntu's chromium package is a snap, which npm test does not install and browser drivers fail to connect to"
      say "(snap confinement). Playwright's own Chromium build, with the libraries it needs, linked to $chromium works:"
      executable=$(cd "$(dirname "$0")/.." && node -p "require('playwright-core').chromium.executablePath()" 2>/dev/null) ||
        executable="\$(node -p \"require('playwright-core').chromium.executablePath()\")"
      commands+=("npx playwright-core install --with-deps chromium && ${sudo}ln -sf $executable $chromium")
    fi
    ;;
esac
joined=${commands[0]}
for command in "${commands[@]:1}"; do joined+=" && $command"; done
say "run this, then npm test again:"
printf '  %s\n' "$joined" >&2
exit 1
