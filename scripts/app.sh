#!/usr/bin/env bash
# Set up (if needed) and start the app on http://127.0.0.1:8501 (the Home page's
# one-click "Try it" trains the default dataset, digits). Extra arguments go to
# streamlit, e.g. `bash scripts/app.sh --server.port 8600`.
#
# --viewer: a read-only demo (AE_MODE=viewer): finished runs only, no training,
# uploads or deletions, no training worker started, no error details in the
# browser. Editors can still sign in if .streamlit/secrets.toml sets a provider
# or an editor password (README, "Sharing the app").
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
for a in "$@"; do
  if [ "$a" = "--viewer" ]; then
    export AE_MODE=viewer
  else
    args+=("$a")
  fi
done
if [ "${AE_MODE:-}" = "viewer" ]; then
  args=(--client.showErrorDetails none "${args[@]}")
fi
bash scripts/setup.sh
if [ "${AE_EXECUTOR:-local}" = "ray" ] && ! .venv/bin/python -c "import ray" 2>/dev/null; then
  echo "error: AE_EXECUTOR=ray needs Ray: .venv/bin/pip install -r requirements-ray.txt" >&2
  exit 2
fi
exec .venv/bin/streamlit run app.py "${args[@]}"
