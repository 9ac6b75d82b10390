#!/bin/sh
# Rebuilds the canvas and fails if web/static differs from the committed bundle (CI runs this).
set -eu
cd "$(dirname "$0")"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build
if [ -n "$(git status --porcelain -- ../static)" ]; then
  echo "web/static is stale: run 'npm run build' in web/frontend and commit web/static." >&2
  git status --short -- ../static >&2
  exit 1
fi
echo "web/static matches the sources."
