#!/usr/bin/env bash
# One bad command line of examples/gpt: `gpt_flags.sh GPT MESSAGE ARGS...` runs `GPT ARGS...`
# and passes when it exits 2 (a usage error) and its standard error holds MESSAGE (as written,
# not a pattern) and the usage. examples/CMakeLists.txt lists the cases (example.gpt_flags.*).
set -uo pipefail
gpt="$1" message="$2"
shift 2
err=$("$gpt" "$@" 2>&1 >/dev/null)
code=$?
fail() {
  printf 'gpt %s\n%s\n--- stderr:\n%s\n' "$*" "$why" "$err"
  exit 1
}
if [[ $code -ne 2 ]]; then why="exit code $code, expected 2"; fail "$@"; fi
if ! grep -qF -- "$message" <<<"$err"; then why="stderr lacks: $message"; fail "$@"; fi
if ! grep -qF -- "usage: gpt train" <<<"$err"; then why="stderr lacks the usage"; fail "$@"; fi
echo "ok: $err" | head -1
