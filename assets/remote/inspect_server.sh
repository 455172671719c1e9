# shellcheck shell=sh
# The dashboard's live look at a whole server in one exec: for each of its sites (the list
# domains), `site DOMAIN` and then what inspect_site (lib.sh) reads, the release log from byte
# offsets_I on (its size at the last read; 0 the first time), and for a site whose envs_I is 1
# (it shares .env) what env_status (env_status.sh) reads.
: "${relog_tail?}" "${domains_n?}"

i=1
while [ "$i" -le "$domains_n" ]; do
  domain=$(item domains "$i")
  site_paths "$domain"
  setv site "$domain"
  inspect_site "$(item offsets "$i")" "$relog_tail"
  if [ "$(item envs "$i")" = 1 ]; then env_status; fi
  i=$((i + 1))
done
