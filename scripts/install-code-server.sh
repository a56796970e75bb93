#!/usr/bin/env bash
# Installs code-server 4.99.4 (VS Code 1.99.3 on Node 20) into a per-user cache folder, offline
# apart from the npm registry and Debian's packages. Fresh clones and CI reuse the cache; it is
# rebuilt only when it is missing or does not start.
#
# Prints the path of the code-server entry point (out/node/entry.js) on its last line.
# Why each step: see README "Troubleshooting" and the comments below.
set -euo pipefail

VERSION="4.99.4"
CACHE_ROOT="${LWB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lora-workbench}"
DEST="$CACHE_ROOT/code-server-$VERSION"
ENTRY="$DEST/package/out/node/entry.js"
STAMP="$DEST/.complete"

log() { echo "[code-server] $*" >&2; }

# healthy [quiet]: is the cached install complete and does it start? Says why not unless quiet.
healthy() {
  local why=""
  if [[ ! -f "$STAMP" || ! -f "$ENTRY" ]]; then
    why="not installed"
  else
    local v
    v="$(cd "$DEST" && timeout 120 node "$ENTRY" --version 2>&1 | head -n1 || true)"
    if [[ "$v" != "$VERSION"* ]]; then
      why="'code-server --version' printed: $v"
    elif ! (cd "$DEST/package/lib/vscode" && timeout 120 node -e "require('node-pty');require('@vscode/spdlog');require('@parcel/watcher')") >/dev/null 2>&1; then
      why="its native modules do not load"
    elif [[ ! -x "$DEST/package/lib/vscode/node_modules/@vscode/ripgrep/bin/rg" ]]; then
      why="ripgrep is missing"
    fi
  fi
  [[ -z "$why" ]] && return 0
  [[ "${1:-}" == quiet ]] || log "$why"
  return 1
}

if healthy quiet; then
  log "cached: $DEST"
  echo "$ENTRY"
  exit 0
fi

bash "$(dirname "$0")/ensure-apt.sh" libkrb5-dev ripgrep build-essential python3

log "installing code-server $VERSION into $DEST (a few minutes, once)"
rm -rf "$DEST"
mkdir -p "$DEST"
TMP="$(mktemp -d "$CACHE_ROOT/.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "code-server@$VERSION" >/dev/null)
tar -xzf "$TMP/code-server-$VERSION.tgz" -C "$DEST"

# Install scripts are skipped: code-server's own postinstall refuses to run as root and
# @vscode/ripgrep's downloads a binary from outside the npm registry. We do their work below.
export npm_config_yes=true
(cd "$DEST/package" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
(cd "$DEST/package/lib/vscode" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
(cd "$DEST/package/lib/vscode" && npm rebuild node-pty @vscode/spdlog native-watchdog @parcel/watcher kerberos --loglevel=error)
(cd "$DEST/package" && npm rebuild argon2 --loglevel=error)

# Debian's ripgrep where @vscode/ripgrep expects its download
mkdir -p "$DEST/package/lib/vscode/node_modules/@vscode/ripgrep/bin"
ln -sf "$(command -v rg)" "$DEST/package/lib/vscode/node_modules/@vscode/ripgrep/bin/rg"
# code-server's postinstall makes this link
ln -sfn node_modules "$DEST/package/lib/vscode/node_modules.asar"

touch "$STAMP"
if ! healthy; then
  log "the installed code-server does not start; see the output above"
  exit 1
fi
log "installed: $DEST"
echo "$ENTRY"
