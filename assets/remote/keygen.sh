# shellcheck shell=sh
# flipdeck keygen: the site's deploy key and the git host's pinned key, both in .flipdeck/. Makes
# the key pair once (reports the public key), then looks the git host up in the pinned keys. If
# it is not pinned, the git host's keys are scanned and reported (scan only, nothing trusted);
# with pin_fp set (the fingerprint the operator confirmed), a fresh scan's key with exactly that
# fingerprint is pinned, and a scan without it fails: the key is never taken on trust.
#
# Parameters: key_name and hosts_name (file names in .flipdeck/), key_comment, git_host and
# git_port (from the site's repository), pin_fp (empty: report only).
: "${key_name?}" "${hosts_name?}" "${key_comment?}" "${git_host?}" "${git_port?}" "${pin_fp?}"
# From lib.sh.
: "${meta?}"

for fd_tool in ssh-keygen ssh-keyscan; do
  command -v "$fd_tool" >/dev/null 2>&1 || { echo "$fd_tool is not installed on the server (openssh-client)" >&2; exit 1; }
done
step key
mkdir -p "$meta" || exit 1
key="$meta/$key_name"
hosts="$meta/$hosts_name"
if [ ! -f "$key" ]; then
  ssh-keygen -q -t ed25519 -N '' -C "$key_comment" -f "$key" </dev/null >/dev/null || exit 1
  setv key_created 1
fi
setv deploy_key "$(cat "$key.pub")" || exit 1

if [ "$git_port" = 22 ]; then name=$git_host; else name="[$git_host]:$git_port"; fi
if [ -f "$hosts" ] && ssh-keygen -F "$name" -f "$hosts" >/dev/null 2>&1; then
  setv pinned 1
  exit 0
fi

step scan
scan="$meta/.keyscan.$$"
trap 'rm -f "$scan" "$scan.one"' EXIT
ssh-keyscan -p "$git_port" "$git_host" >"$scan" 2>/dev/null
found=0
while IFS= read -r line; do
  case $line in '#'* | '') continue ;; esac
  printf '%s\n' "$line" >"$scan.one"
  fp=$(ssh-keygen -lf "$scan.one" 2>/dev/null) || continue
  # `256 SHA256:... host (ED25519)`: the fingerprint and the type.
  fd_fp=$(printf '%s\n' "$fp" | awk '{ print $2 }')
  fd_type=$(printf '%s\n' "$fp" | awk '{ print $NF }' | tr -d '()')
  [ -n "$fd_fp" ] || continue
  found=1
  setv git_host_key "$fd_fp $fd_type"
  if [ -n "$pin_fp" ] && [ "$fd_fp" = "$pin_fp" ]; then
    printf '%s\n' "$line" >>"$hosts" || exit 1
    setv pinned 1
    exit 0
  fi
done <"$scan"
if [ "$found" != 1 ]; then
  echo "ssh-keyscan got no key from $name: is the git host reachable from the server?" >&2
  exit 1
fi
if [ -n "$pin_fp" ]; then
  echo "$name presented no key with the fingerprint $pin_fp: nothing was pinned" >&2
  exit 1
fi
