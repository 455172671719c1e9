# shellcheck shell=sh
# Prints a deployment's log file from the server (log_path). Sent on its own, without lib.sh: it
# reads nothing of the layout and reports nothing.
: "${log_path?}"

cat "$log_path"
