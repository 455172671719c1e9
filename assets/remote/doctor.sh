# shellcheck shell=sh
# `flipdeck doctor`: looks at what flipdeck relies on, in one exec, changing nothing but a
# scratch folder it removes. Each check reports `setv check "NAME STATUS DETAIL"` with STATUS
# ok, warn, fail or skip; src/engine/doctor.rs adds the fix. `begin` on both streams first: what
# the login shell printed before it is told apart (the check `login_shell`).
# Parameters: need_git (a site whose code the server fetches or is pushed), need_http (a site has a URL health check),
# the lists sudo_cmd (configured commands that use sudo), fpm_socket, repo and repo_branch, and
# nginx_dir (empty without an nginx site).
: "${need_git?}" "${need_http?}" "${nginx_dir?}" "${acl_user_n?}" "${sudo_cmd_n?}" "${fpm_socket_n?}" "${repo_n?}"
# From lib.sh.
: "${root?}"

printf '%s begin\n' "$M"
printf '%s begin\n' "$M" >&2

check() { setv check "$1 $2 $3"; }

# The root: there, or creatable by `provision`. `probe` is the nearest folder that exists, where
# the disk and rename checks look.
probe=${root:-/}
while [ ! -d "$probe" ]; do probe=${probe%/*}; probe=${probe:-/}; done
if [ -d "$root" ] && [ -w "$root" ]; then check root ok "$root is writable"
elif [ -d "$root" ]; then check root fail "$root is not writable by $(id -un)"
elif [ -w "$probe" ]; then check root ok "$root does not exist yet; provision creates it in $probe"
else check root fail "$root does not exist and $probe is not writable by $(id -un)"; fi

# git, and its version.
if command -v git >/dev/null 2>&1; then
  check git ok "$(git --version 2>&1 | head -n 1)"
elif [ "$need_git" = 1 ]; then
  check git fail "git is not on PATH ($PATH)"
else
  check git skip "not installed; no site needs it here (an artifact needs no git)"
fi

# An HTTP client for URL health checks.
if [ "$need_http" != 1 ]; then check http_client skip "no site has a URL health check"
elif command -v curl >/dev/null 2>&1; then check http_client ok "curl"
elif command -v wget >/dev/null 2>&1; then check http_client ok "wget"
else check http_client fail "neither curl nor wget is on PATH"; fi

# The atomic switch: mv -T renames a link over a link to a directory (without -T, mv would move
# it into that directory).
scratch="$probe/.flipdeck-doctor-$$"
if mkdir "$scratch" 2>/dev/null; then
  mkdir "$scratch/a" "$scratch/b" && ln -s a "$scratch/live" && ln -s b "$scratch/next"
  if mv -T "$scratch/next" "$scratch/live" 2>/dev/null && [ "$(readlink "$scratch/live")" = b ] && [ ! -e "$scratch/a/next" ]; then
    check rename ok "mv -T replaces a symlink atomically in $probe"
  else
    check rename fail "mv -T did not rename a symlink over another in $probe"
  fi
  rm -rf "$scratch"
else
  check rename fail "cannot create a scratch folder in $probe to try mv -T"
fi

# sudo without a password for each configured command that uses it. A plain `sudo CMD ARGS` is
# checked as that command (`sudo -n -l`); anything else as `sudo -n true`.
if [ "$sudo_cmd_n" -eq 0 ]; then check sudo skip "no configured command uses sudo"
elif ! command -v sudo >/dev/null 2>&1; then check sudo fail "sudo is not installed (needed by: $(item sudo_cmd 1))"
else
  i=1 bad=
  while [ "$i" -le "$sudo_cmd_n" ]; do
    c=$(item sudo_cmd "$i")
    rest=${c#sudo }
    case $rest in
      *[!A-Za-z0-9\ ._/=:-]*|'') sudo -n true </dev/null >/dev/null 2>&1 || bad=$c ;;
      *)
        # shellcheck disable=SC2086 # the command's words, split on purpose
        sudo -n -l $rest </dev/null >/dev/null 2>&1 || bad=$c ;;
    esac
    [ -n "$bad" ] && break
    i=$((i + 1))
  done
  if [ -n "$bad" ]; then check sudo fail "sudo -n refuses \"$bad\" for $(id -un) (it would ask for a password)"
  else check sudo ok "sudo -n allows every configured command"; fi
fi

# The PHP-FPM sockets nginx sites pass requests to.
if [ "$fpm_socket_n" -eq 0 ]; then check fpm_socket skip "no nginx site uses a PHP-FPM socket"
else
  i=1 bad=
  while [ "$i" -le "$fpm_socket_n" ]; do
    s=$(item fpm_socket "$i")
    [ -S "$s" ] || { bad=$s; break; }
    i=$((i + 1))
  done
  if [ -n "$bad" ]; then check fpm_socket fail "no socket at $bad"
  else check fpm_socket ok "every configured socket exists"; fi
fi

# The folder provision writes nginx server blocks into.
if [ -z "$nginx_dir" ]; then check nginx_dir skip "no site has nginx = true"
elif [ -d "$nginx_dir" ] && [ -w "$nginx_dir" ]; then check nginx_dir ok "$nginx_dir is writable"
elif [ -d "$nginx_dir" ]; then check nginx_dir fail "$nginx_dir is not writable by $(id -un)"
else check nginx_dir fail "$nginx_dir does not exist"; fi

# setfacl, and the web users it grants to, for sites with writable_mode = "acl".
if [ "$acl_user_n" -eq 0 ]; then check acl skip "no site has writable_mode = \"acl\""
elif ! command -v setfacl >/dev/null 2>&1; then check acl fail "setfacl is not installed"
else
  i=1 missing=
  while [ "$i" -le "$acl_user_n" ]; do
    u=$(item acl_user "$i")
    id "$u" >/dev/null 2>&1 || { missing=$u; break; }
    i=$((i + 1))
  done
  if [ -n "$missing" ]; then check acl fail "no user $missing on this server"
  else check acl ok "setfacl is installed; the web user exists"; fi
fi

# Free space and inodes where releases go, against the newest release there (by mtime).
last=
if [ -d "$root/deployments" ]; then
  # shellcheck disable=SC2012 # release names are [0-9-]; ls -t is the portable newest-first
  last=$(ls -dt "$root"/deployments/*/[0-9]*/ 2>/dev/null | head -n 1)
fi
free_kb=$(df -Pk "$probe" 2>/dev/null | awk 'NR == 2 { print $4 }')
free_in=$(df -Pi "$probe" 2>/dev/null | awk 'NR == 2 { print $4 }')
case $free_in in ''|*[!0-9]*) free_in= ;; esac
if [ -z "$free_kb" ]; then check disk warn "df cannot tell the free space of $probe"
else
  if [ -n "$last" ]; then
    need_kb=$(du -sk "$last" 2>/dev/null | awk '{ print $1 }')
    need_in=$(find "$last" 2>/dev/null | wc -l | tr -d ' ')
    what="the last release (${last%/}: ${need_kb} KiB, $need_in inodes)"
  else
    need_kb=10240 need_in=1000
    what="10 MiB and 1000 inodes (no release yet to measure)"
  fi
  have="$free_kb KiB${free_in:+ and $free_in inodes} free in $probe"
  if [ "$free_kb" -lt "$need_kb" ] || { [ -n "$free_in" ] && [ "$free_in" -lt "$need_in" ]; }; then
    check disk fail "$have, less than $what"
  elif [ "$free_kb" -lt $((need_kb * 3)) ] || { [ -n "$free_in" ] && [ "$free_in" -lt $((need_in * 3)) ]; }; then
    check disk warn "$have, less than three times $what"
  else
    check disk ok "$have"
  fi
fi

# The clock, compared with the caller's by the engine.
now=$(date -u +%s.%N 2>/dev/null)
case $now in *N|'') now=$(date -u +%s) ;; esac
setv clock "$now"

# Each site's repository and branch, as a deploy fetches them: no prompt may wait for a person.
if [ "$repo_n" -eq 0 ]; then check repository skip "no site has a repository"
elif ! command -v git >/dev/null 2>&1; then check repository skip "git is missing (see git)"
else
  i=1
  while [ "$i" -le "$repo_n" ]; do
    r=$(item repo "$i") b=$(item repo_branch "$i")
    t=
    command -v timeout >/dev/null 2>&1 && t="timeout 30"
    if out=$(GIT_TERMINAL_PROMPT=0 GIT_SSH_COMMAND="${GIT_SSH_COMMAND:-ssh} -o BatchMode=yes" $t git ls-remote --heads "$r" "refs/heads/$b" 2>&1 </dev/null); then
      if [ -n "$out" ]; then check repository ok "$r (branch $b)"
      else check repository fail "$r has no branch $b"; fi
    else
      check repository fail "$r is not reachable: $(printf '%s\n' "$out" | grep . | tail -n 1)"
    fi
    i=$((i + 1))
  done
fi
