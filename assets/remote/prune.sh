# shellcheck shell=sh
# The prune command: lock, delete the releases of the list `prune` (see prune_releases), unlock.

step lock
take_lock
trap unlock EXIT
prune_releases
