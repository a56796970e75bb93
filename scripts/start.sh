#!/usr/bin/env bash
# `npm start`: installs what is needed, builds and packages the extension, installs it into
# code-server (VS Code 1.99.3 in the browser) and serves the sample workspace on 127.0.0.1.
#   LWB_PORT=8080            port (default 8080)
#   LWB_BIND=127.0.0.1       address to bind (keep it local: there is no password)
#   LWB_WORKSPACE=<folder>   open this folder instead of the sample workspace
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export ONNXRUNTIME_NODE_INSTALL=skip
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
PORT="${LWB_PORT:-8080}"
BIND="${LWB_BIND:-127.0.0.1}"
DEMO="$ROOT/.lwb-demo"

bash scripts/ensure-apt.sh libkrb5-dev ripgrep build-essential python3
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
ENTRY="$(bash scripts/install-code-server.sh | tail -n1)"
npm run --silent package >/dev/null
VSIX="$(ls -t "$ROOT"/lora-workbench-*-linux-x64.vsix | head -n1)"

mkdir -p "$DEMO/user-data/User" "$DEMO/extensions"
# a copy of the sample workspace, made once: your edits in it survive restarts
if [[ -z "${LWB_WORKSPACE:-}" && ! -d "$DEMO/workspace" ]]; then
  cp -r "$ROOT/sample" "$DEMO/workspace"
fi
WORKSPACE="${LWB_WORKSPACE:-$DEMO/workspace}"
[[ -f "$DEMO/user-data/User/settings.json" ]] || cat > "$DEMO/user-data/User/settings.json" <<'JSON'
{
  "telemetry.telemetryLevel": "off",
  "workbench.startupEditor": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false
}
JSON
node "$ENTRY" --extensions-dir "$DEMO/extensions" --user-data-dir "$DEMO/user-data" --force --install-extension "$VSIX" >/dev/null

URL="http://$BIND:$PORT/?folder=$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$WORKSPACE")"
echo
echo "LoRA Workbench is running in VS Code $(node "$ENTRY" --version | sed 's/.*with Code //') at:"
echo
echo "    $URL"
echo
echo "Open it in a browser (from another machine: ssh -L $PORT:127.0.0.1:$PORT this-host). Ctrl+C stops it."
exec node "$ENTRY" --auth none --bind-addr "$BIND:$PORT" --disable-telemetry --disable-update-check \
  --disable-workspace-trust --config "$DEMO/code-server.yaml" --user-data-dir "$DEMO/user-data" \
  --extensions-dir "$DEMO/extensions" "$WORKSPACE"
