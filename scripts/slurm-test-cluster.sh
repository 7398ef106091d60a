#!/usr/bin/env bash
# A throw-away one-node SLURM cluster in a directory, without systemd (for tests and for trying `seiscreen submit`).
#   scripts/slurm-test-cluster.sh start DIR   -> prints `export SLURM_CONF=DIR/slurm.conf`; daemons' PIDs in DIR/*.pid
#   scripts/slurm-test-cluster.sh stop DIR    -> stops exactly those PIDs (munged, slurmctld, slurmd)
# Needs Debian's slurm-wlm and munge (scripts/setup.sh installs them when run as root) and root: slurmd runs the
# jobs' processes. munged runs as user munge with its own key and socket in DIR, so a system munge is not touched.
set -euo pipefail
action=${1:?usage: slurm-test-cluster.sh start|stop DIR}
dir=${2:?usage: slurm-test-cluster.sh start|stop DIR}

stop() {
    for name in slurmd slurmctld munged; do
        pidfile="$dir/$name.pid"
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        fi
        rm -f "$pidfile"
    done
    if [ -f "$dir/munge.path" ]; then
        case $(cat "$dir/munge.path") in /tmp/seiscreen-munge.*) rm -rf "$(cat "$dir/munge.path")" ;; esac
        rm -f "$dir/munge.path"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    for tool in munged mungekey slurmctld slurmd sbatch; do
        command -v "$tool" >/dev/null || { echo "error: $tool not found: install slurm-wlm and munge" >&2; exit 3; }
    done
    [ "$(id -u)" = 0 ] || { echo "error: the test cluster needs root (slurmd starts the jobs)" >&2; exit 3; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    host=$(hostname -s)
    cpus=$(nproc)
    memory=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
    mkdir -p "$dir/state" "$dir/spool"
    # munged runs as user munge, which must reach its folder: DIR may sit below a private folder (pytest's
    # tmp_path is under a 0700 one), so munge gets its own folder in /tmp, recorded in DIR/munge.path.
    munge=$(mktemp -d /tmp/seiscreen-munge.XXXXXX)
    echo "$munge" > "$dir/munge.path"
    chown munge:munge "$munge"
    chmod 755 "$munge"  # the socket's folder must be searchable by every user; the key itself is 0600
    runuser -u munge -- mungekey --create --keyfile="$munge/munge.key" --force
    runuser -u munge -- munged --socket="$munge/munge.socket" --key-file="$munge/munge.key" \
        --pid-file="$munge/munged.pid" --log-file="$munge/munged.log" --seed-file="$munge/munged.seed"
    cp "$munge/munged.pid" "$dir/munged.pid"
    cat > "$dir/slurm.conf" <<EOF
ClusterName=seiscreen-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$dir/slurm.conf"
    # -i: ignore state left by an earlier cluster in this directory; both daemons write their own PID files.
    slurmctld -i -f "$SLURM_CONF"
    slurmd -f "$SLURM_CONF" -N "$host"
    for _ in $(seq 100); do
        if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
            echo "export SLURM_CONF=$SLURM_CONF"
            return 0
        fi
        sleep 0.2
    done
    echo "error: the SLURM node did not come up; see $dir/slurmctld.log and $dir/slurmd.log" >&2
    stop
    exit 4
}

case "$action" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: slurm-test-cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
