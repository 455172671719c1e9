# shellcheck shell=sh
# `flipdeck env edit/set/unset/restore`: replaces the site's shared .env, under the site's deploy
# lock (a deploy never reads a half-made file, nor races the change). Stdin brings the file as
# flipdeck read it (env_old_len bytes, or nothing when env_expect is `missing`) and then the new
# file (env_new_len bytes): the change is refused (`env_changed`) if the server's file is no
# longer the one the operator saw. The new file is made beside the old one (it keeps the old
# file's mode, and group where allowed, or is 0600 when there was none); then the file being
# replaced is saved as the next version in .flipdeck/env-history/ (0600 in a 0700 folder) with
# one record line (number, time, who, which keys: never a value); then the new file is renamed
# over it (atomic), and only then are versions beyond the newest env_keep removed. A failure at
# any point leaves the .env and the kept versions as they were. Nothing of the content is ever
# printed.
#
# Parameters: env_expect (`file` or `missing`), env_old_len, env_new_len, env_keep, env_who,
# env_change (the record's summary).
: "${env_expect?}" "${env_old_len?}" "${env_new_len?}" "${env_keep?}" "${env_who?}" "${env_change?}"
# From lib.sh.
: "${shared?}" "${meta?}" "${base?}"

umask 077
env_file="$shared/.env"
env_hist="$meta/env-history"
env_seen="$meta/.env-seen.$$"
env_tmp="$shared/.env.flipdeck-$$"
env_final="$shared/.env.flipdeck-new-$$"
if [ ! -d "$base" ]; then
  echo "$base does not exist: provision the site first (flipdeck provision)" >&2
  exit 1
fi

step lock
take_lock
trap 'rm -f "$env_seen" "$env_tmp" "$env_final"; unlock' EXIT
trap 'exit 130' INT TERM HUP

step receive
head -c "$env_old_len" >"$env_seen" && cat >"$env_tmp" || exit 1
if [ "$(wc -c <"$env_seen" | tr -d ' ')" != "$env_old_len" ] || [ "$(wc -c <"$env_tmp" | tr -d ' ')" != "$env_new_len" ]; then
  echo "the new .env did not arrive whole; nothing was changed" >&2
  exit 1
fi

step check
if [ -L "$env_file" ]; then
  echo "$env_file is a symlink (to $(readlink "$env_file")): flipdeck does not write through it" >&2
  exit 1
fi
if [ -e "$env_file" ] && [ ! -f "$env_file" ]; then
  echo "$env_file is not a regular file" >&2
  exit 1
fi
if [ "$env_expect" = missing ]; then
  [ -e "$env_file" ] && { setv env_changed 1; exit 1; }
else
  cmp -s "$env_seen" "$env_file" || { setv env_changed 1; exit 1; }
fi

# The new file first, beside the old one: a failure here (a full disk) changes nothing at all.
step write
if [ -e "$env_file" ]; then
  # A copy keeps the mode (and, where allowed, the group); its content is then replaced.
  cp -p "$env_file" "$env_final" 2>/dev/null || cp "$env_file" "$env_final" || exit 1
  cat "$env_tmp" >"$env_final" || exit 1
else
  mv "$env_tmp" "$env_final" || exit 1
fi

env_n=
if [ -e "$env_file" ]; then
  step save
  mkdir -p "$env_hist" && chmod 700 "$env_hist" || exit 1
  env_n=0
  if [ -f "$env_hist/log" ]; then
    env_n=$(tail -n 1 "$env_hist/log" | cut -f 1)
    case $env_n in '' | *[!0-9]*) env_n=0 ;; esac
  fi
  for f in "$env_hist"/*; do
    f=${f##*/}
    case $f in '' | *[!0-9]*) ;; *) [ "$f" -gt "$env_n" ] && env_n=$f ;; esac
  done
  env_n=$((env_n + 1))
  if ! { cp "$env_file" "$env_hist/$env_n" && chmod 600 "$env_hist/$env_n" &&
    printf '%s\t%s\t%s\t%s\n' "$env_n" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$env_who" "$env_change" >>"$env_hist/log"; }; then
    rm -f "$env_hist/$env_n"
    exit 1
  fi
fi

step switch
if ! mv -f "$env_final" "$env_file"; then
  # Not replaced: the version saved for it goes (a record without its file is never listed).
  [ -n "$env_n" ] && rm -f "$env_hist/$env_n"
  exit 1
fi
setv env_written 1
[ -n "$env_n" ] || exit 0
setv env_saved_as "$env_n"
# The newest env_keep versions stay; only once the new file is in place.
env_all=$(for f in "$env_hist"/*; do
  f=${f##*/}
  case $f in '' | *[!0-9]*) ;; *) echo "$f" ;; esac
done | sort -n)
env_count=$(printf '%s\n' "$env_all" | grep -c .)
for v in $env_all; do
  [ "$env_count" -gt "$env_keep" ] || break
  rm -f "${env_hist:?}/$v"
  env_count=$((env_count - 1))
done
