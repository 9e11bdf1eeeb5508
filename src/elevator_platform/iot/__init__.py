"MQTT bridge, HTTPS push ingestion, simulator and broker ACL of the IoT monitoring."
