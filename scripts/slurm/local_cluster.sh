#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for tests and for trying the SLURM profile.
#
#   scripts/slurm/local_cluster.sh start    # install if missing, configure, start, wait for idle
#   scripts/slurm/local_cluster.sh status   # daemons and node state; exit 0 when up
#   scripts/slurm/local_cluster.sh stop     # cancel jobs, stop the daemons this script started
#
# Debian/Ubuntu, as root (installs slurm-wlm and munge with apt when missing, writes
# /etc/slurm/slurm.conf: Debian's binaries, and the nested `srun` of every job, read that path).
# Works without systemd and without cgroups: munged, slurmctld and slurmd run as plain daemons
# with proctrack/linuxproc, task/none and select/cons_tres; no accounting (jobs are followed with
# `squeue`, so MinJobAge is long). The node's CPUs and memory come from `slurmd -C`; it also
# advertises one GRES "gpu" backed by /dev/null (XTALSYM_SLURM_GPUS=0 turns it off), so GPU
# requests (`--gpus=1`) are scheduled as on a GPU node; the jobs still run on the CPU.
#
# Environment: XTALSYM_SLURM_DIR  state, spool, logs and PID files [/tmp/xtalsym-slurm]
#              XTALSYM_SLURM_GPUS 1: one stand-in GPU on the node, 0: none [1]
# Exit status: 0 ok, 1 failure, 3 cannot run here (not root, or no apt-get to install SLURM).
set -euo pipefail

STATE=${XTALSYM_SLURM_DIR:-/tmp/xtalsym-slurm}
GPUS=$((${XTALSYM_SLURM_GPUS:-1} > 0 ? 1 : 0))
CONF=/etc/slurm/slurm.conf
GRES_CONF=/etc/slurm/gres.conf
MARK="# written by xtalsym scripts/slurm/local_cluster.sh"
NODE=localhost
PARTITION=main
# Daemons in stop order; each writes $STATE/<name>.pid (munged only when this script started it).
DAEMONS=(slurmd slurmctld munged)

log() { echo "[local_cluster] $*" >&2; }
die() { log "error: $*"; exit "${2:-1}"; }

pid_of() {  # the live PID recorded for daemon $1, or nothing
    local f="$STATE/$1.pid" pid
    [[ -s $f ]] || return 0
    pid=$(<"$f")
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

have_slurm() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v squeue >/dev/null \
        && command -v munged >/dev/null && command -v munge >/dev/null
}

install_packages() {
    have_slurm && return 0
    command -v apt-get >/dev/null || die "SLURM is not installed and there is no apt-get" 3
    local t0=$SECONDS
    log "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get install -y -q --no-install-recommends slurm-wlm munge)
    if ! "${apt[@]}" >"$STATE/apt.log" 2>&1; then
        log "install failed; running apt-get update and retrying"
        apt-get update -q >>"$STATE/apt.log" 2>&1 || true
        "${apt[@]}" >>"$STATE/apt.log" 2>&1 || die "apt-get install failed, see $STATE/apt.log"
    fi
    have_slurm || die "slurm-wlm installed but its binaries are missing"
    log "installed in $((SECONDS - t0)) s"
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    if munge_ok; then
        log "munged already running (not started here, will not be stopped here)"
        return 0
    fi
    [[ -s /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
    # munged refuses to run when its directories or log are owned by someone else.
    mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
    chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
    chmod 0700 /etc/munge /var/log/munge
    chmod 0711 /var/lib/munge
    chmod 0755 /run/munge
    chmod 0600 /etc/munge/munge.key
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged
    local i
    for i in $(seq 50); do munge_ok && break; sleep 0.1; done
    munge_ok || die "munged did not start, see /var/log/munge/munged.log"
    cp /run/munge/munged.pid "$STATE/munged.pid"
}

# NodeName=... CPUs=2 Boards=1 ... RealMemory=24105 -> the value of key $1
hw() { slurmd -C | head -1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }

write_config() {
    local f
    for f in "$CONF" "$GRES_CONF"; do
        if [[ -e $f ]] && ! grep -qF "$MARK" "$f"; then
            die "$f exists and was not written by this script; not overwriting it"
        fi
    done
    local mem cpus
    mem=$(hw RealMemory)
    cpus=$(hw CPUs)
    # Leave headroom for the daemons and Snakemake itself: 10 % or at least 512 MB.
    mem=$((mem - (mem / 10 > 512 ? mem / 10 : 512)))
    local gres_node="" gres_types=""
    if ((GPUS > 0)); then
        gres_node=" Gres=gpu:$GPUS"
        gres_types="GresTypes=gpu"
    fi
    mkdir -p /etc/slurm "$STATE/spool" "$STATE/state"
    cat >"$CONF.tmp" <<EOF
$MARK
# A single-node cluster on localhost; state, spool, logs and PID files in $STATE.
ClusterName=xtalsym
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
# No systemd or cgroups needed.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
# No accounting: finished jobs stay visible to \`squeue --states=all\` for MinJobAge seconds,
# which the Snakemake SLURM plugin needs in squeue status mode (>= 3 x its first status wait).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
ReturnToService=2
$gres_types
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus Boards=$(hw Boards) SocketsPerBoard=$(hw SocketsPerBoard) CoresPerSocket=$(hw CoresPerSocket) ThreadsPerCore=$(hw ThreadsPerCore) RealMemory=$mem$gres_node State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
    if ((GPUS > 0)); then
        # A GPU GRES needs a device file; /dev/null stands in (no device cgroups here).
        printf '%s\nNodeName=%s Name=gpu File=/dev/null\n' "$MARK" "$NODE" >"$GRES_CONF"
    else
        rm -f "$GRES_CONF"
    fi
    log "wrote $CONF: node $NODE, $cpus CPUs, $mem MB, $GPUS GPU(s), partition $PARTITION"
}

node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1; }

start() {
    if [[ -n $(pid_of slurmctld) && -n $(pid_of slurmd) ]] && munge_ok; then
        log "already running"
        status
        return 0
    fi
    if ((EUID != 0)); then die "needs root (installs packages, writes $CONF)" 3; fi
    local t0=$SECONDS
    mkdir -p "$STATE"
    install_packages
    local t_installed=$SECONDS
    # A half-started cluster from an earlier run: stop what is left of it first.
    stop_daemons slurmd slurmctld
    rm -rf "$STATE/state" "$STATE/spool"
    start_munge
    write_config
    slurmctld -i || die "slurmctld failed, see $STATE/slurmctld.log"
    slurmd -N "$NODE" || die "slurmd failed, see $STATE/slurmd.log"
    local i state=""
    for i in $(seq 120); do
        state=$(node_state)
        [[ $state == idle* ]] && break
        sleep 0.5
    done
    [[ $state == idle* ]] || die "node is '$state', not idle, after 60 s; see $STATE/*.log"
    # The whole path (munge, controller, node, step launch) in one job.
    timeout 60 srun -N1 -n1 -t 1 true || die "a test job (srun true) failed"
    log "up in $((SECONDS - t0)) s ($((t_installed - t0)) s installing): $(sinfo -h -o 'partition %P, %c CPUs, %m MB, %G')"
}

stop_daemons() {  # stop the daemons named in $@ by their PID files; TERM, then KILL after 10 s
    local name pid i
    for name in "$@"; do
        pid=$(pid_of "$name")
        if [[ -z $pid ]]; then
            rm -f "$STATE/$name.pid"
            continue
        fi
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name ($pid) ignored TERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
        fi
        kill -0 "$pid" 2>/dev/null && die "$name ($pid) is still running"
        rm -f "$STATE/$name.pid"
        log "stopped $name ($pid)"
    done
}

stop() {
    if [[ -n $(pid_of slurmctld) ]]; then
        # Running jobs would outlive slurmd (their slurmstepd are separate processes).
        scancel --full --quiet --partition "$PARTITION" 2>/dev/null || true
        local i
        for i in $(seq 50); do
            [[ -z $(squeue -h -t RUNNING,COMPLETING,PENDING -o %i 2>/dev/null) ]] && break
            sleep 0.2
        done
    fi
    stop_daemons "${DAEMONS[@]}"
}

status() {
    local name pid rc=0
    for name in "${DAEMONS[@]}"; do
        pid=$(pid_of "$name")
        if [[ -n $pid ]]; then
            echo "$name: running ($pid)"
        elif [[ $name == munged ]] && munge_ok; then
            echo "munged: running (not started by this script)"
        else
            echo "$name: stopped"
            rc=1
        fi
    done
    if ((rc == 0)); then
        sinfo -o '%P %D %T %c %m %G'
    fi
    return $rc
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
