#!/usr/bin/env bash
# A local Apache Kafka broker for sluice's tests and for users who want one: fetches Kafka (and its
# dependencies) from Maven Central into a cache, formats KRaft storage once, and runs a single-node
# broker+controller on loopback.
#
#   scripts/kafka.sh            run in the foreground (Ctrl+C stops it)
#   scripts/kafka.sh --daemon   run in the background; returns once the broker answers
#   scripts/kafka.sh --stop     stop the background broker
#
# Environment: SLUICE_KAFKA_PORT (default 19092; the controller takes the next port),
# SLUICE_KAFKA_CACHE (default .cache/kafka in the repository), SLUICE_KAFKA_DATA (log dirs).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version=4.3.1
port=${SLUICE_KAFKA_PORT:-19092}
controller_port=$((port + 1))
cache=${SLUICE_KAFKA_CACHE:-$root/.cache/kafka}
data=${SLUICE_KAFKA_DATA:-$cache/data-$port}
libs=$cache/libs-$version
pidfile=$cache/broker-$port.pid
logfile=$cache/broker-$port.log
config=$cache/server-$port.properties
mode=${1:-foreground}

say() { echo "kafka: $*"; }

broker_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

stop_broker() {
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")"
    for _ in $(seq 1 60); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.5; done
    say "stopped the broker on 127.0.0.1:$port"
  fi
  rm -f "$pidfile"
}

if [ "$mode" = "--stop" ]; then stop_broker; exit 0; fi

mkdir -p "$cache"
if [ ! -f "$libs/.complete" ]; then
  say "fetching org.apache.kafka:kafka_2.13:$version and its dependencies from Maven Central into $libs"
  cat > "$cache/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>sluice.local</groupId><artifactId>kafka-broker</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.25.4</version></dependency>
  </dependencies>
</project>
POM
  rm -rf "$libs"
  mvn -q -B -f "$cache/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs"
  touch "$libs/.complete"
fi

cat > "$config" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
CONF

java_cmd=(java -Xms256m -Xmx768m -XX:+UseG1GC -cp "$libs/*")
if [ ! -f "$data/meta.properties" ]; then
  cluster_id=$("${java_cmd[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
  say "formatting KRaft storage in $data (cluster $cluster_id)"
  "${java_cmd[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$config" --standalone > /dev/null 2>&1
fi

if [ "$mode" = "--daemon" ]; then
  if broker_answers; then say "a broker already answers on 127.0.0.1:$port"; exit 0; fi
  nohup "${java_cmd[@]}" kafka.Kafka "$config" > "$logfile" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if broker_answers; then say "broker ready on 127.0.0.1:$port (log: $logfile)"; exit 0; fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then say "the broker exited; last lines of $logfile:"; tail -n 30 "$logfile"; exit 1; fi
    sleep 0.5
  done
  say "the broker did not answer within 60 s; see $logfile"
  exit 1
fi

say "running a broker on 127.0.0.1:$port (Ctrl+C stops it)"
exec "${java_cmd[@]}" kafka.Kafka "$config"
