//! Shapers: the shaper seam, local CAKE over netlink, and MikroTik RouterOS over REST.
