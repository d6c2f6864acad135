"""MQTT ingestion (`sodata mqtt`): devices publish the body of POST .../datapoints to
sodata/v1/{corporateAccountUuid}/devices/{serialNumber}/datapoints; workers sharing a
subscription store it, acknowledge it once committed, and answer on the Response Topic.

- topics.py: the topics and their parsing.
- ingest.py: one flush of messages: checked as HTTP batches are, written in one transaction.
- worker.py: the broker connection (paho-mqtt, MQTT 5, manual acknowledgements) and the loop.
- dynsec.py: the broker accounts of gateways' API clients, in Mosquitto's dynamic security.
"""
