//! Multi-WAN steering: move new latency-sensitive connections to the healthier WAN.
