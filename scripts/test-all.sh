#!/usr/bin/env bash
# The whole test suite, from a fresh clone on Debian with only Node 20 and npm (as root, or with
# sudo for the apt step): installs what is missing, then runs types, lint, unit tests, the VSIX
# check and the tests inside a real VS Code (code-server + Playwright + Debian Chromium).
#
#   npm test            (the same as: bash scripts/test-all.sh)
#   LWB_SKIP_VSCODE=1   skip the real-VS-Code tests (for a quick local loop only; CI never sets it)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export ONNXRUNTIME_NODE_INSTALL=skip   # no downloads outside the npm registry (see .npmrc)
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
mkdir -p artifacts
REPORTS="$ROOT/artifacts/test-reports"
rm -rf "$REPORTS" && mkdir -p "$REPORTS"

T0=$(date +%s)
declare -a TIMES=()
step() {
  local name="$1"; shift
  local s=$(date +%s)
  echo
  echo "=== $name"
  "$@"
  TIMES+=("$(printf '%-28s %4ss' "$name" $(( $(date +%s) - s )))")
}

# Node's test runner, with a TAP copy of the results for the summary at the end
node_tests() {
  local name="$1"; shift
  node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$REPORTS/$name.tap" "$@"
}

install_system() {
  bash scripts/ensure-apt.sh chromium fonts-dejavu-core fonts-wqy-microhei libkrb5-dev ripgrep build-essential python3
}

install_npm() {
  # npm ci only when node_modules is missing or older than package-lock.json
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
  else
    echo "node_modules is up to date"
  fi
}

step "system packages" install_system
step "npm packages" install_npm
step "code-server" bash scripts/install-code-server.sh
step "types (tsc --noEmit)" npm run --silent typecheck
step "lint (eslint + manifest)" npm run --silent lint
step "build" node scripts/build.mjs --tests
step "unit tests" node_tests unit out/test/unit/
step "package VSIX" npm run --silent package
step "VSIX contents" node_tests vsix test/package/
if [[ "${LWB_SKIP_VSCODE:-}" == "1" && "${CI:-}" != "true" ]]; then
  echo "=== real-VS-Code tests skipped (LWB_SKIP_VSCODE=1)"
else
  step "tests in real VS Code" env LWB_TAP="$REPORTS/vscode.tap" node scripts/run-vscode-tests.mjs
fi

echo
echo "=== timings"
printf '  %s\n' "${TIMES[@]}"
printf '  %-28s %4ss\n' "total" $(( $(date +%s) - T0 ))
node scripts/summarize-tests.mjs "$REPORTS"
