#!/bin/bash
# kafka-run-class.sh CLASS ARGS...: the Kafka classpath, INFO logs to stdout.
exec java ${KAFKA_HEAP_OPTS:-} ${KAFKA_OPTS:-} \
    -Dlog4j2.configurationFile=/opt/kafka/bin/log4j2.properties -cp '/opt/kafka/libs/*' "$@"
