//! Checks that types alone cannot express: unique names, valid interface names, loopback-only HTTP unless
//! allowed, sane intervals. Every problem is reported at once, each naming its field.

use std::{collections::HashMap, path::Path, time::Duration};

use super::{Config, ConfigError};
use crate::{signal::source_policy::SourcePolicy, steering::actuator::ActuatorConfig};

/// Longest WAN name: it ends up in file names, metric labels and STATUS lines.
const MAX_WAN_NAME: usize = 32;
/// Linux `IFNAMSIZ` less the terminating NUL.
const MAX_IFNAME: usize = 15;

/// Validates a parsed [`Config`].
///
/// # Errors
/// All problems found, each naming its field.
pub fn validate(config: &Config, source: &Path) -> Result<(), Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut error =
        |field: String, message: String| errors.push(ConfigError::field(source, field, message));

    let service = &config.service;
    if !service.http_listen.ip().is_loopback() && !service.allow_remote_http {
        error(
            "service.http_listen".into(),
            format!(
                "{} is not a loopback address; /health and /metrics have no authentication. \
                 Set `service.allow_remote_http: true` to expose them anyway",
                service.http_listen
            ),
        );
    }
    for (field, path) in [
        ("service.state_dir", &service.state_dir),
        ("service.runtime_dir", &service.runtime_dir),
    ] {
        if !path.is_absolute() {
            error(
                field.into(),
                format!("`{}` must be an absolute path", path.display()),
            );
        }
    }
    check_range(
        &mut error,
        "service.state_save_interval",
        service.state_save_interval.get(),
        Duration::from_secs(1),
        Duration::from_secs(600),
    );
    check_range(
        &mut error,
        "service.watchdog.stall_after",
        service.watchdog.stall_after.get(),
        Duration::from_millis(100),
        Duration::from_secs(600),
    );

    if config.wans.is_empty() {
        error("wans".into(), "at least one WAN is required".into());
    }
    let mut names = HashMap::new();
    let mut interfaces = HashMap::new();
    for (index, wan) in config.wans.iter().enumerate() {
        let at = format!("wans[{index}]");
        if let Err(why) = check_wan_name(&wan.name) {
            error(format!("{at}.name"), why);
        } else if let Some(first) = names.insert(wan.name.as_str(), index) {
            error(
                format!("{at}.name"),
                format!("`{}` is already the name of wans[{first}]", wan.name),
            );
        }
        if let Err(why) = check_interface(&wan.interface) {
            error(format!("{at}.interface"), why);
        } else if let Some(first) = interfaces.insert(wan.interface.as_str(), index) {
            error(
                format!("{at}.interface"),
                format!(
                    "`{}` is already used by wans[{first}]; one loop per interface",
                    wan.interface
                ),
            );
        }
        if let Err(e) = wan.control.validate() {
            error(format!("{at}.control.{}", e.field), e.rule);
        }
        match (&wan.active_probe, wan.rtt_source) {
            (Some(active), _) => {
                if let Err(e) = active.validate() {
                    error(format!("{at}.active_probe.{}", e.field), e.reason);
                }
            }
            (None, SourcePolicy::Passive) => {}
            (None, policy) => error(
                format!("{at}.rtt_source"),
                format!(
                    "`{}` needs an `active_probe` section with reflectors",
                    serde_yaml_ng::to_string(&policy).unwrap_or_default().trim()
                ),
            ),
        }
        if let Err(e) = wan.probe.validate() {
            error(
                format!("{at}.probe.{}", e.field),
                format!("`{}`: expected {}", e.value, e.allowed),
            );
        }
        if let Some(cake) = &wan.cake
            && let Err(e) = cake.validate()
        {
            error(format!("{at}.cake.{}", e.field), e.reason);
        }
        if let Some(router) = &wan.routeros {
            match router.validate() {
                Ok(()) => {}
                Err(crate::shaper::routeros::RouterOsError::Config { field, reason }) => {
                    error(format!("{at}.routeros.{field}"), reason);
                }
                Err(other) => error(format!("{at}.routeros"), other.to_string()),
            }
        }
    }
    if let Some(steering) = &config.steering {
        if let Err(e) = steering.validate() {
            error(format!("steering.{}", e.field), e.reason);
        }
        for (field, name) in [
            ("primary", &steering.primary),
            ("alternate", &steering.alternate),
        ] {
            if !config.wans.iter().any(|wan| &wan.name == name) {
                error(
                    format!("steering.{field}"),
                    format!("`{name}` is not the name of a configured WAN"),
                );
            }
        }
        // The mangle rule lives on the primary WAN's router; without one the daemon could not reach it.
        let primary_router = config
            .wans
            .iter()
            .find(|wan| wan.name == steering.primary)
            .is_some_and(|wan| wan.routeros.is_some());
        if matches!(steering.actuator, ActuatorConfig::RouterOs(_)) && !primary_router {
            error(
                "steering.actuator.routeros".to_string(),
                format!(
                    "the mangle rule is toggled on the primary WAN's router, but WAN `{}` has no `routeros` section",
                    steering.primary
                ),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn check_range(
    error: &mut impl FnMut(String, String),
    field: &str,
    value: Duration,
    min: Duration,
    max: Duration,
) {
    if value < min || value > max {
        error(
            field.into(),
            format!("{value:?} is outside {min:?}..={max:?}"),
        );
    }
}

/// WAN names go into file names and labels, so only a safe alphabet.
pub fn check_wan_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_WAN_NAME {
        return Err(format!("`{name}` must have 1 to {MAX_WAN_NAME} characters"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "`{name}` contains `{bad}`; use letters, digits, `_`, `-`, `.`"
        ));
    }
    if name.starts_with('.') {
        return Err(format!("`{name}` must not start with `.`"));
    }
    Ok(())
}

/// The kernel's rules for interface names (`dev_valid_name`).
pub fn check_interface(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_IFNAME {
        return Err(format!(
            "`{name}` must have 1 to {MAX_IFNAME} bytes (Linux IFNAMSIZ)"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` is not a valid interface name"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| *c == '/' || *c == ':' || c.is_whitespace())
    {
        return Err(format!(
            "`{name}` contains `{bad:?}`, which interface names cannot"
        ));
    }
    Ok(())
}
