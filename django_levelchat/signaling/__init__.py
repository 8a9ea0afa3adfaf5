"""The signaling server: the wire protocol, the WebSocket consumer, presence and routing."""
