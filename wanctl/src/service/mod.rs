//! The daemon: control loop per WAN, systemd notify and watchdog, signals, health and metrics.
