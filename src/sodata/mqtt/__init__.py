"""MQTT ingestion (`sodata mqtt`): devices publish the body of POST .../datapoints to
sodata/v1/{corporateAccountUuid}/devices/{serialNumber}/datapoints; workers sharing a
subscription store it, acknowledge it once committed, and answer on the Response Topic.

- topics.py: the topics and their parsing.
- ingest.py: one flush of messages: checked as HTTP batches are, written in one transaction.
- consumer.py: the workers' broker connection (MQTT 5, QoS 1, PUBACKs of a batch in one write).
- worker.py: the workers' loop (batch, store, answer, acknowledge) and their supervisor.
- connection.py: sodata's other broker connections (paho-mqtt), as dynsec.py's.
- dynsec.py: the broker accounts of gateways' API clients, in Mosquitto's dynamic security.
"""
