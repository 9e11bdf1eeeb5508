"""MQTT transport of the IoT monitoring: bridge, simulator, broker ACL and
embedded broker. The ingestion they feed (shared with the HTTPS push API)
is module elevator_iot's (ingest.py, payloads.py, push.py, passwords.py)."""
