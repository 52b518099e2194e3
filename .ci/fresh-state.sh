# Sourced by .ci/run: brings this host to a fresh machine's state for hearth, keeping only the
# content-addressed caches in HEARTH_HOME (images, tools layer, kernels, initramfs and erofs
# images, downloaded packages). Defines `fresh_state`; with HEARTH_CI_DRY_RUN=1 it only prints what
# it would kill, unmount and remove.
#
# A fresh state means: no process hearth started (sandboxes, VMs, servers), no hearth cgroups, no
# mounts of hearth's run dirs, and a new, empty HEARTH_STATE_DIR (database, run dir, accelerator
# verdict, VM templates), exported for every later step.

ci_state_root=${HEARTH_CI_STATE_ROOT:-/var/tmp/hearth-ci}
cgroup_root=${HEARTH_CGROUP_ROOT:-/sys/fs/cgroup}

act() {
  if [ "${HEARTH_CI_DRY_RUN:-0}" = 1 ]; then echo "would: $*"; else "$@"; fi
}

# hearth's groups: `hearth*` under the cgroup root (v2) and under every hierarchy (v1, a hybrid's unified).
hearth_cgroups() {
  local d
  for d in "$cgroup_root"/hearth* "$cgroup_root"/*/hearth*; do
    [ -d "$d" ] && printf '%s\n' "$d"
  done
  return 0
}

# Processes hearth started: whatever is in its cgroups, and the sandbox and VM programs (and
# servers) whose command line names hearth (its tools layer, run dir, sandbox ids or bin/hearth.js).
hearth_pids() {
  local g f pid cmd
  while read -r g; do
    while read -r f; do cat "$f" 2>/dev/null || true; done < <(find "$g" -name cgroup.procs 2>/dev/null)
  done < <(hearth_cgroups)
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    [ "$pid" = "$$" ] && continue
    cmd=$(tr '\0' ' ' <"$f" 2>/dev/null) || continue
    case "$cmd" in
      *hearth*) ;;
      *) continue ;;
    esac
    if [[ $cmd =~ ^([^ ]*/)?(bwrap|runsc[^ ]*|qemu-system-[^ ]*|hearth-exec|firecracker)\  ]] ||
      [[ $cmd =~ ^([^ ]*/)?node\ ([^ ]*/)?bin/hearth\.js\ serve ]]; then
      echo "$pid"
    fi
  done
}

# tmpfs work dirs of one-shot bwrap runs (source `hearth-<id>`) and anything mounted under a run dir.
hearth_mounts() {
  awk -v home="${HEARTH_HOME:-/var/lib/hearth}" -v ci="$ci_state_root" '{
    sep = 0; for (i = 7; i <= NF; i++) if ($i == "-") { sep = i; break }
    src = $(sep + 2); mp = $5
    if (src ~ /^hearth-/ || index(mp, home "/run/") == 1 || index(mp, ci "/") == 1) print mp
  }' /proc/self/mountinfo | sort -r
}

fresh_state() {
  local pids d left i
  pids=$(hearth_pids | sort -un | tr '\n' ' ')
  if [ -n "${pids// /}" ]; then
    echo "    killing hearth processes: $pids"
    # shellcheck disable=SC2086
    act kill -KILL $pids 2>/dev/null || true
  fi
  while read -r d; do
    echo "    unmounting $d"
    act umount -l "$d" || true
  done < <(hearth_mounts)
  # Groups go children first; a group empties once the kernel has reaped its killed processes.
  for i in $(seq 1 50); do
    left=0
    while read -r d; do
      if [ "${HEARTH_CI_DRY_RUN:-0}" = 1 ]; then
        echo "would remove cgroup tree $d"
        continue
      fi
      find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
      [ -d "$d" ] && left=1
    done < <(hearth_cgroups)
    [ "$left" = 0 ] && break
    for p in $(hearth_pids); do kill -KILL "$p" 2>/dev/null || true; done
    sleep 0.1
  done
  if [ "$left" != 0 ]; then
    echo "hearth cgroups still left after 5 s:" >&2
    hearth_cgroups >&2
    return 1
  fi
  act rm -rf "$ci_state_root"
  # 0755: the run dir below is reached by each bwrap job's own unprivileged uid.
  act mkdir -p -m 0755 "$ci_state_root/state"
  export HEARTH_STATE_DIR="$ci_state_root/state"
  # Derived from the state dir; values from the caller's environment would point elsewhere.
  unset HEARTH_RUN_DIR HEARTH_DB
  echo "    HEARTH_STATE_DIR=$HEARTH_STATE_DIR (empty)"
}
