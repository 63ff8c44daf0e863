"""The WebSocket gateway: holds charger sockets and moves frames between them and
Redis. It does no OCPP business logic. See `server.Gateway`."""
