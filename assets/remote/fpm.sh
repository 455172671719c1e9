# shellcheck shell=sh
# read_fpm_timeout CONF: reads the last process_control_timeout of PHP-FPM's main config CONF and
# the files it includes (pool files); reports `fpm_timeout` (the raw value, or `unset`) or
# `fpm_unreadable`. Unset means 0, and then every reload cuts the requests being served.
read_fpm_timeout() {
  fpm_conf=$1
  if [ -r "$fpm_conf" ]; then
    fpm_inc=$(sed -n 's/^[[:space:]]*include[[:space:]]*=[[:space:]]*"\{0,1\}\([^"]*\)"\{0,1\}[[:space:]]*$/\1/p' "$fpm_conf")
    # shellcheck disable=SC2086 # unquoted on purpose: includes are glob patterns (pool.d/*.conf)
    fpm_pct=$(for f in "$fpm_conf" $fpm_inc; do [ -r "$f" ] && cat "$f" && echo; done | sed -n 's/^[[:space:]]*process_control_timeout[[:space:]]*=[[:space:]]*//p' | tail -n 1)
    setv fpm_timeout "${fpm_pct:-unset}"
  else
    setv fpm_unreadable 1
  fi
}
