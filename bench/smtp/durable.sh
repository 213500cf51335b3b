#!/usr/bin/env bash
# SMTP ingest benchmark: Postfix's smtp-source against reboundd (every message durably
# stored in PostgreSQL before its 250) and against Postfix's smtp-sink (accepts and
# discards) in the same run, with 1, 10 and 50 parallel sessions reusing connections.
#
#   bench/smtp/durable.sh [BUILD_DIR]          (default build/; needs `tools/build` first)
#   BENCH_MESSAGES=20000 BENCH_SIZE=4096 BENCH_SESSIONS="1 10 50" BENCH_ROUNDS=3 bench/smtp/durable.sh
#
# Two loads, each against reboundd and against smtp-sink:
#  - smtp-source's own messages (unique Message-Id, BENCH_SIZE bytes of body, not a bounce:
#    stored raw, no event), all to one valid envelope token;
#  - dsn_load's distinct DSNs of about BENCH_SIZE bytes, each to its own envelope token: parsed,
#    stored with one event each and run through the suppression policy (a hard bounce).
# Loopback only; everything it starts is stopped at the end.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$top/build}
messages=${BENCH_MESSAGES:-20000}
size=${BENCH_SIZE:-4096}
rounds=${BENCH_ROUNDS:-3}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_ROUNDS must be a positive number, got '$rounds'" >&2; exit 2; }
"$top/tools/install-deps" --bench
[[ -x $build/services/reboundd/reboundd && -x $build/bench/smtp/dsn_load ]] ||
  { echo "build first: tools/build $build" >&2; exit 1; }

work=$(mktemp -d /tmp/rebound-bench-XXXXXX)
pg_port=$((57000 + $$ % 1000))
sink_port=$((58000 + $$ % 1000))
pg="$top/tools/pg-local --dir $work/pg --port $pg_port"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # reboundd's counters at shutdown, over the whole run: batches (group commits), flushes
  # (synchronous commits confirming them), and the mean time a message spent queued, in its
  # batch, and between its commit and its 250.
  grep "event=reboundd.counters" "$work/reboundd.log" 2>/dev/null | tail -1 |
    grep -oE "ingest_(stored|duplicates|batches|flushes|storage_failures|wait_us|execute_us|confirm_us)=[0-9]+" |
    awk -F= '{ v[$1] = $2; if ($1 !~ /_us$/) printf "%s ", $0 }
      END { n = v["ingest_stored"] + v["ingest_duplicates"]; if (n > 0)
              printf "mean us: queued %.0f, in batch %.0f, commit to 250 %.0f", v["ingest_wait_us"] / n,
                     v["ingest_execute_us"] / n, v["ingest_confirm_us"] / n; print "" }' || true
  $pg stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

$pg start
export REBOUND_DATABASE_URL="host=$work/pg port=$pg_port user=postgres dbname=rebound"
export REBOUND_MASTER_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
export REBOUND_DATA_DIR=$work/data
export REBOUND_SMTP_LISTEN=127.0.0.1:0
export REBOUND_GRPC_LISTEN=127.0.0.1:0
export REBOUND_SMTP_MAX_CONNECTIONS_PER_CLIENT=100
export REBOUND_SMTP_MAX_MESSAGES_PER_CONNECTION=1000000
export REBOUND_LOG_LEVEL=warn
"$build/services/cli/rebound" migrate >/dev/null
psql_() { psql -h "$work/pg" -p "$pg_port" -U postgres -d rebound -qtAc "$1"; }
account=$(psql_ "INSERT INTO accounts (name) VALUES ('bench') RETURNING id")
psql_ "INSERT INTO sender_domains (account_id, domain, feedback_domain) VALUES ($account, 'bench.test', 'feedback.bench.test')" >/dev/null
rcpt=$("$build/services/cli/rebound" token encode --mailing 1 --recipient 1 --domain feedback.bench.test --account "$account")

REBOUND_LOG_LEVEL=info "$build/services/reboundd/reboundd" 2>"$work/reboundd.log" &
pids+=($!)
for _ in $(seq 100); do grep -q "event=reboundd.ready" "$work/reboundd.log" 2>/dev/null && break; sleep 0.1; done
smtp_port=$(grep -m1 "event=smtp.listening" "$work/reboundd.log" | sed -E 's/.* port=([0-9]+).*/\1/')
[[ -n $smtp_port ]] || { cat "$work/reboundd.log" >&2; exit 1; }

user=postfix
id postfix >/dev/null 2>&1 || user=$(id -un)
smtp-sink -u "$user" -c 127.0.0.1:$sink_port 256 >/dev/null &
pids+=($!)
sink_pid=$!
# Listening before the first round (a busy machine can take longer than a fixed pause).
for try in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$sink_port") 2>/dev/null && break
  kill -0 "$sink_pid" 2>/dev/null && ((try < 100)) ||
    { echo "smtp-sink is not answering on 127.0.0.1:$sink_port" >&2; exit 1; }
  sleep 0.1
done

stored() { psql_ "SELECT count(*) FROM raw_messages"; }
events() { psql_ "SELECT count(*) FROM bounce_events"; }
last_raw_id() { psql_ "SELECT coalesce(max(id), 0) FROM raw_messages"; }
# Messages per stored batch since raw message id $1: each batch is one transaction (one xmin).
batch_size() { psql_ "SELECT round(count(*)::numeric / greatest(count(DISTINCT xmin::text), 1), 1) FROM raw_messages WHERE id > $1"; }
reboundd_pid=${pids[0]}
# CPU seconds (user+system) used so far by reboundd, and by the cluster's postgres processes.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ t += $14 + $15 } END { printf "%.3f", t / hz }' "$@" 2>/dev/null || echo 0; }
pg_cpu() {
  local pm files=()
  pm=$(head -1 "$work/pg/data/postmaster.pid" 2>/dev/null || echo)
  [[ -n $pm ]] || { echo 0; return; }
  for p in $pm $(pgrep -P "$pm"); do files+=("/proc/$p/stat"); done
  cpu_of "${files[@]}"
}

# Senders: SENDER PORT SESSIONS COUNT -> messages per second.
smtp_source_rate() {
  local start end
  start=$(date +%s.%N)
  smtp-source -d -s "$2" -m "$3" -l "$size" -f '' -t "$rcpt" 127.0.0.1:"$1"
  end=$(date +%s.%N)
  awk -v n="$3" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }'
}
dsn_load_rate() {
  local tokens=()
  # Real tokens for reboundd; smtp-sink takes anything.
  [[ $1 == "$smtp_port" ]] && tokens=(--account "$account" --master-key "$REBOUND_MASTER_KEY")
  "$build/bench/smtp/dsn_load" --port "$1" --sessions "$2" --messages "$3" --size "$size" "${tokens[@]}" \
    --domain feedback.bench.test | awk '{ print $3 }'
}

us() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.0f", 1e6 * (b - a) / n }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }

# The median and the range (lo-hi) of the space-separated numbers on standard input.
median() {
  tr ' ' '\n' | grep . | sort -n |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
range() { tr ' ' '\n' | grep . | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }

# measure TITLE SENDER COUNTER: one row per session count. Each count is sent BENCH_ROUNDS
# times (default 3), alternating reboundd and smtp-sink so that both see the same swings of a
# shared machine; the row shows the median rate of each (and the range), the ratio of the
# medians, the rows COUNTER saw stored, and reboundd's and PostgreSQL's CPU per message.
measure() {
  local sessions count before after r s cpu_r0 cpu_p0 cpu_r cpu_p raw0 round rates sinks rate sink
  echo "== $1"
  printf "%-9s %8s %14s %8s %14s %6s %14s %12s %12s %6s\n" sessions "reboundd/s" "(range)" "sink/s" "(range)" ratio \
    "$3" "reboundd-us" "postgres-us" batch
  for sessions in ${BENCH_SESSIONS:-1 10 50}; do
    count=$messages
    [[ $sessions -eq 1 ]] && count=$((messages / 4))
    before=$($3)
    raw0=$(last_raw_id)
    rates="" sinks="" cpu_r=0 cpu_p=0
    for round in $(seq "$rounds"); do
      cpu_r0=$(cpu_of "/proc/$reboundd_pid/stat") cpu_p0=$(pg_cpu)
      r=$($2 "$smtp_port" "$sessions" "$count")
      cpu_r=$(awk -v t="$cpu_r" -v a="$cpu_r0" -v b="$(cpu_of "/proc/$reboundd_pid/stat")" 'BEGIN { print t + b - a }')
      cpu_p=$(awk -v t="$cpu_p" -v a="$cpu_p0" -v b="$(pg_cpu)" 'BEGIN { print t + b - a }')
      s=$($2 "$sink_port" "$sessions" "$count")
      rates+=" $r" sinks+=" $s"
    done
    after=$($3)
    rate=$(median <<<"$rates") sink=$(median <<<"$sinks")
    printf "%-9s %8s %14s %8s %14s %6s %14s %12s %12s %6s\n" "$sessions" "$rate" "($(range <<<"$rates"))" "$sink" \
      "($(range <<<"$sinks"))" "$(pct "$rate" "$sink")" "$((after - before))/$((count * rounds))" \
      "$(us 0 "$cpu_r" $((count * rounds)))" "$(us 0 "$cpu_p" $((count * rounds)))" "$(batch_size "$raw0")"
  done
}

measure "smtp-source, its own $size-byte messages (stored raw; not bounces, so no events)" smtp_source_rate stored
measure "dsn_load, distinct ~$size-byte DSNs, one envelope token each (parsed, 1 event + suppression each)" \
  dsn_load_rate events
echo "each 250 is sent after the commit is flushed (ingest.pipelined_flush=${REBOUND_INGEST_PIPELINED_FLUSH:-true})"
echo "reboundd/s, sink/s: median of BENCH_ROUNDS=$rounds alternating runs (range); ratio: of the medians"
echo "reboundd-us, postgres-us: CPU time (user+system) per message used by reboundd and by the PostgreSQL cluster"
echo "batch: messages per group commit (one transaction each)"
