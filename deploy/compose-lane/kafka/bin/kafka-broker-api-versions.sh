#!/bin/bash
KAFKA_HEAP_OPTS=-Xmx256m KAFKA_LOG4J_ROOT_LOGLEVEL=WARN exec /opt/kafka/bin/kafka-run-class.sh org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
