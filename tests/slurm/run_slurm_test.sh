#!/usr/bin/env bash
# End-to-end test of profiles/slurm on a real, single-node SLURM cluster.
#
# Run from the project folder after `make setup` (or `make slurm-test`), as root on
# Debian/Ubuntu. It
#   1. installs the Debian packages slurm-wlm and munge if they are missing;
#   2. starts munged (unless one is already answering), slurmctld and slurmd from a
#      temporary slurm.conf (SLURM_CONF; the system's /etc/slurm is neither needed nor
#      touched) with one node and the partition `debug`;
#   3. copies the project into two temporary working copies and runs the bundled example
#      study (photometry recordings in batches of about 8) once locally and once through
#      SLURM with profiles/slurm, and checks that each batch was one SLURM job;
#   4. compares the two results/ trees file by file.
# On exit it stops exactly the daemons it started and removes its temporary folder
# (set KEEP_TMP=1 to keep the folder for inspection).
# Environment: RUN_TIMEOUT (seconds per Snakemake run, default 1800).
set -euo pipefail

cd "$(dirname "$0")/../.."
PROJECT=$(pwd -P)
SNAKEMAKE="$PROJECT/.venv/bin/snakemake"
PYTHON="$PROJECT/.venv/bin/python"
RUN_TIMEOUT=${RUN_TIMEOUT:-1800}

say() { printf '\n== %s\n' "$*"; }
fail() {
    printf '\nSLURM TEST FAILED: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- preconditions
[ -x "$SNAKEMAKE" ] || fail "$SNAKEMAKE not found: run 'make setup' first."
"$PYTHON" -c "import snakemake_executor_plugin_slurm" 2>/dev/null ||
    fail "snakemake-executor-plugin-slurm is not installed in .venv: run '.venv/bin/pip install snakemake-executor-plugin-slurm'."
[ -f profiles/slurm/config.yaml ] || fail "profiles/slurm/config.yaml is missing."

if [ "$(id -u)" != 0 ]; then
    fail "this test must run as root: it installs Debian packages if needed and starts munged, slurmctld and slurmd (which runs jobs as their users)."
fi

# ---------------------------------------------------------------- packages
need_install=0
for cmd in slurmctld slurmd sbatch squeue sinfo scancel scontrol munged munge unmunge; do
    command -v "$cmd" >/dev/null 2>&1 || need_install=1
done
if [ "$need_install" = 1 ]; then
    command -v apt-get >/dev/null || fail "slurm-wlm/munge are missing and apt-get is not available to install them."
    say "Installing Debian packages slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge >/dev/null
fi
for cmd in slurmctld slurmd sbatch squeue sinfo scancel scontrol munged munge unmunge; do
    command -v "$cmd" >/dev/null 2>&1 || fail "'$cmd' still not found after installing slurm-wlm and munge."
done

# Keep this test's cluster separate from any SLURM settings of the calling environment.
while read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(SLURM_|SBATCH_|SALLOC_|SRUN_)' || true)
unset SNAKEMAKE_PROFILE

# ---------------------------------------------------------------- temp dir + cleanup
TMP=$(mktemp -d -t exneuro-slurm-test.XXXXXX)
MUNGED_PID=""
SLURMCTLD_PID=""
SLURMD_PID=""
RUN_SLURM_EXISTED=0
[ -d /run/slurm ] && RUN_SLURM_EXISTED=1

stop_pid() { # name pid: TERM, wait up to 15 s, then KILL
    local name=$1 pid=$2 i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || { echo "stopped $name (pid $pid)"; return 0; }
        sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true
    echo "killed $name (pid $pid)"
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    echo
    echo "== Cleaning up"
    if [ -n "$SLURMCTLD_PID" ] && kill -0 "$SLURMCTLD_PID" 2>/dev/null; then
        # Cancel whatever is still queued or running on this test cluster (only its jobs).
        ids=$(squeue -h -o %i 2>/dev/null)
        if [ -n "$ids" ]; then
            echo "cancelling SLURM jobs: $ids"
            # shellcheck disable=SC2086
            scancel $ids 2>/dev/null
            sleep 3
        fi
    fi
    stop_pid slurmd "$SLURMD_PID"
    stop_pid slurmctld "$SLURMCTLD_PID"
    stop_pid munged "$MUNGED_PID"
    # slurmd's link to its configuration copy (see "Configless" below).
    if [ -L /run/slurm/conf ] && [[ $(readlink /run/slurm/conf) == "$TMP"/* ]]; then
        rm -f /run/slurm/conf
        [ "$RUN_SLURM_EXISTED" = 1 ] || rmdir /run/slurm 2>/dev/null
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- munge
say "munge"
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    echo "a munged is already running and answering: using it"
else
    if [ ! -s /etc/munge/munge.key ]; then
        command -v mungekey >/dev/null || fail "/etc/munge/munge.key is missing and mungekey is not available."
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/log/munge
    install -d -o munge -g munge -m 0711 /var/lib/munge
    # setpriv execs munged itself, so $! is munged's own PID.
    setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground \
        >"$TMP/munged.out" 2>&1 &
    MUNGED_PID=$!
    ok=0
    for _ in $(seq 1 20); do
        if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then ok=1; break; fi
        kill -0 "$MUNGED_PID" 2>/dev/null || break
        sleep 0.5
    done
    if [ "$ok" != 1 ]; then
        cat "$TMP/munged.out" >&2
        fail "munged did not start or 'munge -n | unmunge' does not succeed."
    fi
    echo "started munged (pid $MUNGED_PID)"
fi
munge -n | unmunge | grep STATUS

# ---------------------------------------------------------------- slurm.conf
say "SLURM configuration"
# Commands inside jobs find the configuration without SLURM_CONF (see below), but a system
# configuration would take precedence over it and point them at another cluster.
[ ! -e /etc/slurm/slurm.conf ] ||
    fail "/etc/slurm/slurm.conf exists: this test starts its own one-node cluster and needs a machine without a system-wide SLURM configuration."
mkdir -p "$TMP"/{etc,run,spool/slurmd,spool/slurmctld,log}
NODE_LINE=$(env -u SLURM_CONF slurmd -C | head -n 1)
NODE=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$NODE_LINE")
[ -n "$NODE" ] || fail "could not read the node line from 'slurmd -C': $NODE_LINE"
[ "$NODE" = "$(hostname -s)" ] || fail "'slurmd -C' names the node '$NODE' but 'hostname -s' is '$(hostname -s)'."
# Two free TCP ports on loopback, so that no other SLURM instance on this machine is in the way.
read -r CTLD_PORT SLURMD_PORT < <("$PYTHON" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)

export SLURM_CONF="$TMP/etc/slurm.conf"
cat >"$SLURM_CONF" <<EOF
# Single-node test cluster (written by tests/slurm/run_slurm_test.sh).
ClusterName=exneurotest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
AuthType=auth/munge
# "Configless": slurmd fetches this file from slurmctld and keeps a copy that commands run
# inside jobs find without SLURM_CONF (the plugin's job step removes SLURM_* variables
# before it calls srun).
SlurmctldParameters=enable_configless
MpiDefault=none
# No systemd or cgroups in containers: plain /proc process tracking, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No accounting database: sacct does not work, squeue is the status command.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
# Finished jobs stay visible in squeue for an hour (status checks and the job count below).
MinJobAge=3600
SlurmctldPidFile=$TMP/run/slurmctld.pid
SlurmdPidFile=$TMP/run/slurmd.pid
SlurmdSpoolDir=$TMP/spool/slurmd
StateSaveLocation=$TMP/spool/slurmctld
SlurmctldLogFile=$TMP/log/slurmctld.log
SlurmdLogFile=$TMP/log/slurmd.log
$NODE_LINE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
echo "SLURM_CONF=$SLURM_CONF"
echo "node: $NODE_LINE; ports $CTLD_PORT/$SLURMD_PORT"

# ---------------------------------------------------------------- daemons
say "Starting slurmctld and slurmd"
slurmctld -D -c >"$TMP/log/slurmctld.out" 2>&1 &
SLURMCTLD_PID=$!
sleep 1
env -u SLURM_CONF slurmd -D --conf-server "127.0.0.1:$CTLD_PORT" >"$TMP/log/slurmd.out" 2>&1 &
SLURMD_PID=$!
echo "slurmctld pid $SLURMCTLD_PID, slurmd pid $SLURMD_PID"

show_daemon_logs() {
    for f in "$TMP"/log/*; do
        echo "--- $f" >&2
        tail -n 20 "$f" >&2
    done
}
state=""
for _ in $(seq 1 60); do
    kill -0 "$SLURMCTLD_PID" 2>/dev/null || { show_daemon_logs; fail "slurmctld exited."; }
    kill -0 "$SLURMD_PID" 2>/dev/null || { show_daemon_logs; fail "slurmd exited."; }
    state=$(sinfo -h -p debug -n "$NODE" -o %t 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 1
done
if [ "$state" != idle ]; then
    show_daemon_logs
    fail "node $NODE not idle in partition debug after 60 s (sinfo state: '${state:-none}')."
fi
sinfo

# A trivial job first, so that a broken cluster is reported as such. Like the plugin's job
# step, it calls srun without SLURM_CONF.
# shellcheck disable=SC2016 # expanded inside the job
smoke=$(timeout 120 sbatch --wait --parsable -p debug -t 1 -o "$TMP/smoke.out" \
    --wrap 'env -u SLURM_CONF srun -n1 bash -c "echo hello from SLURM job \$SLURM_JOB_ID step \$SLURM_STEP_ID on \$(hostname -s)"') ||
    { show_daemon_logs; fail "the trivial sbatch job did not complete."; }
echo "smoke-test job $smoke: $(cat "$TMP/smoke.out")"

# ---------------------------------------------------------------- working copies
say "Copying the project into two working copies"
mkdir -p "$TMP/local" "$TMP/slurm"
# Files tracked by git plus new files not yet added (but not ignored ones: no .venv, results,
# .snakemake); without git: everything but those folders.
if git -C "$PROJECT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$PROJECT" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
            if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
        done |
        tar --null -T - -cf - | tar -xf - -C "$TMP/local"
else
    tar --exclude=./.git --exclude=./.venv --exclude=./results --exclude=./.snakemake \
        --exclude=./.pytest_cache --exclude=./.ruff_cache -cf - . | tar -xf - -C "$TMP/local"
fi
# Photometry recordings in batches of about 8 (six batches of the example's 36 recordings), so
# that the SLURM run shows each batch submitted as one job; both runs use the same setting.
sed -i 's/^photometry:$/photometry:\n  recordings_per_job: 8/' "$TMP/local/config/analysis.yaml"
grep -q '^  recordings_per_job: 8$' "$TMP/local/config/analysis.yaml" ||
    fail "could not set photometry.recordings_per_job in the copy's config/analysis.yaml."
# The second copy is made from the first, so both runs start from the same bytes even
# while the project is being edited.
cp -a "$TMP/local/." "$TMP/slurm/"
echo "$(find "$TMP/local" -type f | wc -l) files in each copy"

# ---------------------------------------------------------------- local run
say "Run 1: local (snakemake --cores 2, default profile)"
t0=$(date +%s)
if ! (cd "$TMP/local" && timeout "$RUN_TIMEOUT" "$SNAKEMAKE" --cores 2) >"$TMP/local.log" 2>&1; then
    tail -n 60 "$TMP/local.log" >&2
    fail "the local run failed (log above)."
fi
LOCAL_SECONDS=$(($(date +%s) - t0))
LOCAL_STEPS=$(grep -Eo '[0-9]+ of [0-9]+ steps \(100%\) done' "$TMP/local.log" | tail -n 1 || true)
echo "done in ${LOCAL_SECONDS} s: ${LOCAL_STEPS:-?}"

# ---------------------------------------------------------------- SLURM run
say "Run 2: SLURM (--workflow-profile profiles/slurm --executor slurm)"
# The profile's default resources, with the partition of this test cluster and without the
# account (the test cluster has no accounting, hence no accounts). A command-line
# --default-resources replaces the profile's whole list, so the other entries are repeated.
mapfile -t RESOURCES < <(cd "$TMP/slurm" && "$PYTHON" - <<'EOF'
import yaml

resources = yaml.safe_load(open("profiles/slurm/config.yaml"))["default-resources"]
resources["slurm_partition"] = "debug"
resources.pop("slurm_account", None)
for key, value in resources.items():
    print(f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}")
EOF
)
echo "--default-resources ${RESOURCES[*]}"
jobs_before=$(squeue -h --states=all -o %i | wc -l)
t0=$(date +%s)
if ! (cd "$TMP/slurm" && timeout "$RUN_TIMEOUT" "$SNAKEMAKE" --workflow-profile profiles/slurm \
    --executor slurm --default-resources "${RESOURCES[@]}" --slurm-keep-successful-logs) \
    >"$TMP/slurm.log" 2>&1; then
    tail -n 80 "$TMP/slurm.log" >&2
    find "$TMP/slurm/.snakemake/slurm_logs" -name '*.log' 2>/dev/null | sort | while IFS= read -r f; do
        echo "--- SLURM job log $f" >&2
        tail -n 30 "$f" >&2
    done
    echo "--- squeue --states=all" >&2
    squeue --states=all >&2 || true
    show_daemon_logs
    fail "the SLURM run failed or timed out after ${RUN_TIMEOUT} s (log above)."
fi
SLURM_SECONDS=$(($(date +%s) - t0))
SLURM_STEPS=$(grep -Eo '[0-9]+ of [0-9]+ steps \(100%\) done' "$TMP/slurm.log" | tail -n 1 || true)
echo "done in ${SLURM_SECONDS} s: ${SLURM_STEPS:-?}"

# Every job this run submitted (the smoke-test job came before).
SLURM_JOBS=$(($(squeue -h --states=all -o %i | wc -l) - jobs_before))
SLURM_STATES=$(squeue -h --states=all -o %T | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')
[ "$SLURM_JOBS" -gt 0 ] || fail "the SLURM run submitted no SLURM job."
grep -q "Falling back to 'sacct'" "$TMP/slurm.log" &&
    fail "the plugin fell back to sacct instead of squeue (check MinJobAge)."

# Each batch of recordings is one SLURM job: the batches the local run planned (its job stats)
# against the SLURM jobs whose comment names a batch rule (the plugin's rule_<rule>_... comment).
PLANNED_BATCHES=$(sed -n '/^Job stats:/,/^total/p' "$TMP/local.log" | grep -c '^photometry_batch_' || true)
SUBMITTED_BATCHES=$(squeue -h --states=all -o %k | grep -c '^rule_photometry_batch_' || true)
echo "photometry recordings: ${PLANNED_BATCHES} batches planned, ${SUBMITTED_BATCHES} batch jobs submitted to SLURM"
[ "$PLANNED_BATCHES" -gt 1 ] || fail "the example's recordings did not form several batches."
[ "$SUBMITTED_BATCHES" = "$PLANNED_BATCHES" ] ||
    fail "each batch of recordings should be one SLURM job: ${PLANNED_BATCHES} batches, ${SUBMITTED_BATCHES} jobs."

# ---------------------------------------------------------------- comparison
say "Comparing results/ of both runs"
# Paths (relative to results/, shell patterns) that may differ between the runs, with why.
EXCLUDE_PATTERNS=()
EXCLUDE_REASONS=()

[ -d "$TMP/local/results" ] || fail "the local run wrote no results/."
[ -d "$TMP/slurm/results" ] || fail "the SLURM run wrote no results/."
list_files() { (cd "$1" && find . \( -type f -o -type l \) -printf '%P\n' | LC_ALL=C sort); }
list_files "$TMP/local/results" >"$TMP/files.local"
list_files "$TMP/slurm/results" >"$TMP/files.slurm"

is_excluded() {
    local path=$1 pattern
    for pattern in "${EXCLUDE_PATTERNS[@]}"; do
        # shellcheck disable=SC2053
        [[ $path == $pattern ]] && return 0
    done
    return 1
}

compared=0
excluded=()
differing=()
while IFS= read -r path; do
    if is_excluded "$path"; then
        excluded+=("$path")
        continue
    fi
    if [ ! -e "$TMP/local/results/$path" ]; then
        differing+=("$path (only in the SLURM run)")
    elif [ ! -e "$TMP/slurm/results/$path" ]; then
        differing+=("$path (only in the local run)")
    else
        compared=$((compared + 1))
        cmp -s "$TMP/local/results/$path" "$TMP/slurm/results/$path" || differing+=("$path")
    fi
done < <(LC_ALL=C sort -u "$TMP/files.local" "$TMP/files.slurm")

if [ "${#excluded[@]}" -gt 0 ]; then
    echo "Excluded from the comparison:"
    for i in "${!EXCLUDE_PATTERNS[@]}"; do
        echo "  ${EXCLUDE_PATTERNS[$i]}: ${EXCLUDE_REASONS[$i]}"
    done
    printf '    %s\n' "${excluded[@]}"
fi

say "Summary"
echo "local run:  ${LOCAL_SECONDS} s wall time (${LOCAL_STEPS:-?})"
echo "SLURM run:  ${SLURM_SECONDS} s wall time (${SLURM_STEPS:-?}), ${SLURM_JOBS} SLURM jobs submitted (states of all jobs on the test cluster: ${SLURM_STATES})"
echo "photometry: ${SUBMITTED_BATCHES} batches of recordings, one SLURM job each"
echo "results/:   ${compared} files compared byte for byte, ${#excluded[@]} excluded, ${#differing[@]} differing"
if [ "${#differing[@]}" -gt 0 ]; then
    echo "Differing files:" >&2
    printf '  %s\n' "${differing[@]}" >&2
    fail "${#differing[@]} file(s) in results/ differ between the local and the SLURM run."
fi
[ "$compared" -gt 0 ] || fail "no file was compared."
echo "SLURM TEST PASSED"
