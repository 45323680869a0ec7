//! `wanctl check-cake [--config FILE] [--fix]`: audits the configured CAKE (is it there, which options,
//! what differs from the configuration) and, with `--fix`, installs or corrects it.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context, bail};

use crate::{
    shaper::cake::{
        CakeConfig, CakeShaper, SetupMode, audit,
        netlink::{Netlink, ROOT},
        options::CakeOptions,
        qdisc::handle_text,
    },
    signal::Direction,
};

/// Where the daemon reads its configuration by default.
pub const DEFAULT_CONFIG: &str = "/etc/wanctl/wanctl.yaml";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file; every `cake:` section in it is checked.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Install or correct what is missing or different (only for `mode: install`).
    #[arg(long)]
    pub fix: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let configs = load_cake_configs(&args.config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut problems = 0;
    for config in configs {
        config
            .validate()
            .with_context(|| format!("{}", args.config.display()))?;
        let found = runtime.block_on(audit_one(&config))?;
        for line in &found {
            println!("{}: {line}", config.interface);
        }
        if found.is_empty() {
            println!("{}: ok", config.interface);
            continue;
        }
        if !args.fix {
            problems += found.len();
            continue;
        }
        if config.mode == SetupMode::Adopt {
            println!(
                "{}: not fixed: `mode: adopt` never changes an adopted CAKE's options",
                config.interface
            );
            problems += found.len();
            continue;
        }
        runtime.block_on(CakeShaper::setup(config.clone()))?;
        let left = runtime.block_on(audit_one(&config))?;
        println!(
            "{}: fixed{}",
            config.interface,
            if left.is_empty() { "" } else { " partly" }
        );
        for line in &left {
            println!("{}: still: {line}", config.interface);
        }
        problems += left.len();
    }
    Ok(if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every `cake:` section of the YAML file: at the top level, or inside any mapping or list (per-WAN
/// sections).
pub fn load_cake_configs(path: &Path) -> anyhow::Result<Vec<CakeConfig>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut sections = Vec::new();
    collect(&doc, &mut sections);
    if sections.is_empty() {
        bail!("{} has no `cake:` section", path.display());
    }
    sections
        .into_iter()
        .map(|v| {
            serde_yaml_ng::from_value::<CakeConfig>(v.clone())
                .with_context(|| format!("{}: invalid `cake:` section", path.display()))
        })
        .collect()
}

fn collect<'a>(value: &'a serde_yaml_ng::Value, out: &mut Vec<&'a serde_yaml_ng::Value>) {
    match value {
        serde_yaml_ng::Value::Mapping(map) => {
            for (key, child) in map {
                if key.as_str() == Some("cake") {
                    out.push(child);
                } else {
                    collect(child, out);
                }
            }
        }
        serde_yaml_ng::Value::Sequence(items) => items.iter().for_each(|i| collect(i, out)),
        _ => {}
    }
}

/// What is missing or different, one line each.
async fn audit_one(config: &CakeConfig) -> anyhow::Result<Vec<String>> {
    let nl = Netlink::connect()?;
    let mut found = Vec::new();
    let Some(wan) = nl.link_index(&config.interface).await? else {
        found.push(format!("no such device `{}`", config.interface));
        return Ok(found);
    };
    for direction in Direction::ALL {
        let (device, wanted) = match direction {
            Direction::Upload => match &config.upload {
                Some(d) => (config.interface.clone(), d.options(false)),
                None => continue,
            },
            Direction::Download => match (&config.download, config.ifb_name()) {
                (Some(d), Some(ifb)) => (ifb, d.options(true)),
                _ => continue,
            },
        };
        found.extend(audit_device(&nl, direction, &device, &wanted, config.mode).await?);
        if direction == Direction::Download
            && let Some(ifb) = nl.link_index(&device).await?
            && !nl.ingress_redirect_targets(wan).await?.contains(&ifb)
        {
            found.push(format!(
                "download: no ingress filter redirects {} to {device}",
                config.interface
            ));
        }
    }
    Ok(found)
}

async fn audit_device(
    nl: &Netlink,
    direction: Direction,
    device: &str,
    wanted: &CakeOptions,
    mode: SetupMode,
) -> anyhow::Result<Vec<String>> {
    let dir = direction.as_str();
    let Some(index) = nl.link_index(device).await? else {
        return Ok(vec![format!("{dir}: no such device `{device}`")]);
    };
    let Some(root) = nl.qdisc_at(index, ROOT).await? else {
        return Ok(vec![format!(
            "{dir}: no CAKE on {device} (default root qdisc)"
        )]);
    };
    if root.kind != "cake" {
        return Ok(vec![format!(
            "{dir}: root of {device} is `{} {}`, not cake",
            root.kind,
            handle_text(root.handle)
        )]);
    }
    let live = CakeOptions::parse(root.options.as_deref().unwrap_or_default())?;
    println!(
        "{device}: {dir}: cake {} at {:.3} Mbit/s, {:?}",
        handle_text(root.handle),
        live.base_rate_bytes.unwrap_or_default() as f64 * 8.0 / 1e6,
        live
    );
    if mode == SetupMode::Adopt {
        return Ok(Vec::new());
    }
    Ok(audit::mismatches(wanted, &live)
        .into_iter()
        .map(|m| {
            format!(
                "{dir}: {device}: {} is {}, configured {}",
                m.option, m.live, m.configured
            )
        })
        .collect())
}
