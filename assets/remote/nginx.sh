# shellcheck shell=sh
# Installs the nginx server block read from stdin: written beside the old file, the whole nginx
# config tested, and only then reloaded; a failed test restores the old file. Reports `nginx` =
# unchanged | written | reloaded, or nginx_invalid (test failed, old file back, no reload) or
# nginx_reload_failed.
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
