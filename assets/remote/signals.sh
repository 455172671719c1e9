# shellcheck shell=sh
# The watch after a deploy's switch: one exec beside the deploy's (which holds the switch, the
# lock and the way back meanwhile). Once a second for watch_s seconds it reports what the site
# served since the second before, from its nginx access log, and the new lines of the
# application's log. Only what was written after this script started counts.
#
# Parameters: watch_s; access_log (the site's access log, nginx's `combined` format); app_log
# (relative to the live release, read through its links, e.g. storage -> ../shared/storage; may
# be empty); app_lines and app_bytes (at most that many lines and bytes of it per second; the rest
# is counted, not sent).
#
# Reports, each second: `sig_app LINE` for each new line of app_log, `sig_app_more N` for the
# lines over the cap, then `sig N C2 C3 C4 C5 MS` (responses with a 2xx, 3xx, 4xx, 5xx status in
# that sample, and how many milliseconds it covers: a loaded server takes longer than the 1 s
# sleep), which closes the sample. It ends once watch_s seconds have passed. Once, when it is so: `sig_access_missing` (no file
# there), `sig_access_unreadable` (the login user may not read it), `sig_app_missing`.
: "${watch_s?}" "${access_log?}" "${app_log?}" "${app_lines?}" "${app_bytes?}"
# From lib.sh.
: "${M?}" "${live?}"

# The status of nginx's combined format is the word after the quoted request line. nginx writes
# a quote inside the request as \x22, so the request ends at the first quote that is followed by
# a status and a byte count; the time before it (in [...]) is skipped first.
count_statuses() {
  LC_ALL=C awk '
    {
      s = $0
      if (match(s, /\] "/)) s = substr(s, RSTART + 3)
      if (match(s, /" [1-5][0-9][0-9] [0-9]+/)) n[substr(s, RSTART + 2, 1)]++
    }
    END { printf "%d %d %d %d", n[2], n[3], n[4], n[5] }'
}

# The new lines of the application's log, capped, each one marker line.
app_lines_out() {
  LC_ALL=C awk -v max="$app_lines" -v cap="$app_bytes" '
    {
      if (n < max && used < cap) {
        l = substr($0, 1, cap - used)
        used += length(l)
        n++
        print "l " l
      } else {
        more++
      }
    }
    END { if (more) print "m " more }' |
    while IFS= read -r ap_l; do
      case $ap_l in
      'l '*) setv sig_app "${ap_l#l }" ;;
      'm '*) setv sig_app_more "${ap_l#m }" ;;
      esac
    done
}

# ino_of FILE: its inode number (`ls -i` of one named file: nothing to misparse).
# shellcheck disable=SC2012
ino_of() { ls -Lid -- "$1" 2>/dev/null | awk '{ print $1 }'; }

# new_bytes FILE OFF INO CMD...: runs CMD on what FILE gained since byte OFF; when FILE was
# replaced (another inode: rotated) or is shorter than OFF (truncated), on all of it. Sets nb_off
# and nb_ino to where the next read starts, and nb_state to ok, missing or unreadable (CMD then
# runs on nothing).
new_bytes() {
  nb_file=$1 nb_off=$2 nb_ino=$3
  shift 3
  if [ ! -e "$nb_file" ]; then
    nb_state=missing nb_off=0 nb_ino=
    "$@" </dev/null
    return 0
  fi
  if [ ! -r "$nb_file" ] || [ -d "$nb_file" ]; then
    nb_state=unreadable
    "$@" </dev/null
    return 0
  fi
  nb_state=ok
  nb_now=$(ino_of "$nb_file")
  nb_size=$( (wc -c <"$nb_file") 2>/dev/null | tr -d ' ')
  case $nb_size in '' | *[!0-9]*) nb_state=unreadable; "$@" </dev/null; return 0 ;; esac
  if [ "$nb_now" != "$nb_ino" ] || [ "$nb_size" -lt "$nb_off" ]; then
    nb_off=0
  fi
  tail -c +"$((nb_off + 1))" -- "$nb_file" 2>/dev/null | head -c "$((nb_size - nb_off))" | "$@"
  nb_off=$nb_size nb_ino=$nb_now
}

# Milliseconds since the epoch (GNU date), or whole seconds' worth where %N is not known.
now_ms() {
  nm=$(date +%s%N 2>/dev/null)
  case $nm in
  '' | *[!0-9]*) echo $(($(date +%s) * 1000)) ;;
  *) echo $((nm / 1000000)) ;;
  esac
}

# Where each file ends now: only what comes after counts.
start_of() {
  st_ino='' st_off=0
  [ -r "$1" ] && [ -f "$1" ] || return 0
  st_ino=$(ino_of "$1")
  st_off=$( (wc -c <"$1") 2>/dev/null | tr -d ' ')
  case $st_off in '' | *[!0-9]*) st_off=0 ;; esac
}
start_of "$access_log"
al_off=$st_off al_ino=$st_ino al_said=
app_file=
[ -z "$app_log" ] || app_file="$live/$app_log"
if [ -n "$app_file" ]; then
  start_of "$app_file"
  ap_off=$st_off ap_ino=$st_ino ap_said=
fi

sg_i=1
sg_start=$(now_ms)
sg_last=$sg_start
sg_end=$((sg_start + watch_s * 1000))
while [ "$sg_last" -lt "$sg_end" ]; do
  sleep 1
  if [ -n "$app_file" ]; then
    new_bytes "$app_file" "$ap_off" "$ap_ino" app_lines_out
    ap_off=$nb_off ap_ino=$nb_ino
    if [ "$nb_state" != ok ] && [ -z "$ap_said" ]; then
      setv sig_app_missing "$nb_state"
      ap_said=1
    fi
  fi
  counts=$(new_bytes "$access_log" "$al_off" "$al_ino" count_statuses; printf ' %s %s %s' "$nb_off" "${nb_ino:--}" "$nb_state")
  # shellcheck disable=SC2086 # five numbers, the offset, the inode and a word
  set -- $counts
  al_off=$5 al_ino=${6#-} al_state=$7
  if [ "$al_state" != ok ] && [ -z "$al_said" ]; then
    if [ "$al_state" = missing ]; then setv sig_access_missing 1; else setv sig_access_unreadable 1; fi
    al_said=1
  fi
  sg_now=$(now_ms)
  setv sig "$sg_i $1 $2 $3 $4 $((sg_now - sg_last))"
  sg_last=$sg_now
  sg_i=$((sg_i + 1))
done
