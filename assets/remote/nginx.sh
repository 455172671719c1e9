# shellcheck shell=sh
# Installs the nginx server block read from stdin: written beside the old file, the whole nginx
# config tested, and only then reloaded; a failed test restores the old file. Reports `nginx` =
# unchanged | written | reloaded, or nginx_invalid (test failed, old file back, no reload) or
# nginx_reload_failed; with TLS also nginx_http2 = "directive|listen|off VERSION" (VERSION
# "unknown" when no nginx binary answered `nginx -v`).
#
# Parameters: nginx_dir, nginx_conf (the file), nginx_test, nginx_reload (empty: no reload).
: "${nginx_dir?}" "${nginx_conf?}" "${nginx_test?}" "${nginx_reload?}"
# From lib.sh.
: "${domain?}"

step nginx
# Hidden names: nginx's `include dir/*` skips dotfiles, so a half-written file is never read.
tmp="$nginx_dir/.$domain.conf.flipdeck-$$"
backup="$nginx_dir/.$domain.conf.flipdeck-prev"
[ -d "$nginx_dir" ] || { echo "nginx_sites_dir $nginx_dir is not a directory" >&2; exit 1; }
cat > "$tmp" || { rm -f "$tmp"; exit 1; }
# A TLS server block leaves http2 to this nginx's version: `listen ... ssl http2` from 1.9.5,
# the `http2 on;` directive from 1.25.1 (where the listen parameter is deprecated).
if grep -q '@flipdeck_http2' "$tmp"; then
  nginx_bin=$(command -v nginx 2>/dev/null) || nginx_bin=
  for b in /usr/sbin/nginx /usr/local/sbin/nginx /usr/local/nginx/sbin/nginx; do
    [ -z "$nginx_bin" ] && [ -x "$b" ] && nginx_bin=$b
  done
  ver=
  [ -n "$nginx_bin" ] && ver=$("$nginx_bin" -v 2>&1 | sed -n 's|^nginx version: [^/]*/\([0-9][0-9.]*\).*|\1|p')
  n=0
  if [ -n "$ver" ]; then
    IFS=. read -r v1 v2 v3 <<EOV
$ver
EOV
    v3=${v3%%.*}
    n=$(( ${v1:-0} * 1000000 + ${v2:-0} * 1000 + ${v3:-0} ))
  fi
  drop='/^[[:space:]]*@flipdeck_http2@[[:space:]]*$/d'
  if [ "$n" -ge 1025001 ]; then
    mode=directive; edit='s/@flipdeck_http2_listen@//; s/@flipdeck_http2@/http2 on;/'
  elif [ "$n" -ge 1009005 ]; then
    mode=listen; edit="s/@flipdeck_http2_listen@/ http2/; $drop; s/@flipdeck_http2@//"
  else
    mode=off; edit="s/@flipdeck_http2_listen@//; $drop; s/@flipdeck_http2@//"
  fi
  if ! { sed -e "$edit" "$tmp" > "$tmp.h2" && mv -f "$tmp.h2" "$tmp"; }; then
    rm -f "$tmp" "$tmp.h2"; exit 1
  fi
  setv nginx_http2 "$mode ${ver:-unknown}"
fi
if [ -f "$nginx_conf" ] && cmp -s "$tmp" "$nginx_conf"; then
  rm -f "$tmp"
  setv nginx unchanged
  exit 0
fi
had=0
if [ -e "$nginx_conf" ]; then cp -p "$nginx_conf" "$backup" || { rm -f "$tmp"; exit 1; }; had=1; fi
mv -f "$tmp" "$nginx_conf" || { rm -f "$tmp"; exit 1; }
setv nginx written
step nginx-test
if ! (eval "$nginx_test") </dev/null; then
  if [ $had = 1 ]; then mv -f "$backup" "$nginx_conf"; else rm -f "$nginx_conf"; fi
  setv nginx_invalid 1
  exit 1
fi
rm -f "$backup"
if [ -n "$nginx_reload" ]; then
  step nginx-reload
  (eval "$nginx_reload") </dev/null || { setv nginx_reload_failed 1; exit 1; }
  setv nginx reloaded
fi
