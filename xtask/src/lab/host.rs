//! Running the lab on this machine itself, where its kernel has what the lab needs (sch_cake, netem, TBF,
//! IFB): no emulated CPU, so the issue's own rates can be measured. These machines' kernels lack sch_cake,
//! so here the lab runs in the VM instead.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::Context;

use crate::cmd;

/// What the lab printed on the host, and how it ended.
pub struct HostRun {
    pub lines: Vec<String>,
    /// `None` when it exited 0; otherwise what went wrong.
    pub failure: Option<String>,
}

/// What the lab's namespaces need, tried in a throwaway one: a veth pair, as the lab's links are (some
/// kernels lack the dummy type), CAKE, netem and TBF on it, and an IFB.
const CHECKS: [&str; 6] = [
    "ip link add lab-check type veth peer name lab-check-peer",
    "ip link set lab-check up",
    "tc qdisc add dev lab-check root cake bandwidth 10mbit",
    "tc qdisc replace dev lab-check root netem delay 10ms",
    "tc qdisc replace dev lab-check root tbf rate 10mbit burst 3100 limit 30000",
    "ip link add lab-check-ifb type ifb",
];

/// Whether this machine can run the lab itself: root, and a throwaway namespace that takes CAKE, netem
/// and TBF on a veth and an IFB. The error names the first thing missing.
pub fn check() -> Result<(), String> {
    if !cmd::is_root() {
        return Err("not root".into());
    }
    let ns = format!("wanctl-lab-check-{}", std::process::id());
    run_checked(&["ip", "netns", "add", &ns])?;
    let result = CHECKS.iter().try_for_each(|check| {
        let mut inside = vec!["ip", "netns", "exec", &ns];
        inside.extend(check.split_whitespace());
        run_checked(&inside)
    });
    // Deleting the namespace deletes its links and qdiscs.
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    result
}

/// Runs `args`; the error quotes the command and what it printed.
fn run_checked(args: &[&str]) -> Result<(), String> {
    let output = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("`{}`: {e}", args.join(" ")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

/// Runs `wanctl-lab` with `args` here, handing each line it prints to `echo` as it arrives; stops it
/// (the child this started, by its handle) after `timeout`.
pub fn run(
    lab: &Path,
    args: &[String],
    timeout: Duration,
    echo: &mut dyn FnMut(&str),
) -> anyhow::Result<HostRun> {
    let mut command = Command::new(lab);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", lab.display()))?;
    let stdout = child.stdout.take().context("wanctl-lab stdout")?;
    let followed = crate::follow::lines(stdout, timeout, echo, |_| false);
    if followed.timed_out {
        let _ = child.kill();
        let _ = child.wait();
        return Ok(HostRun {
            lines: followed.lines,
            failure: Some(format!("timed out after {} s", timeout.as_secs())),
        });
    }
    let status = child.wait().context("waiting for wanctl-lab")?;
    Ok(HostRun {
        lines: followed.lines,
        failure: (!status.success()).then(|| format!("wanctl-lab run: {status}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> (HostRun, Vec<String>) {
        let mut echoed = Vec::new();
        let run = run(
            Path::new("/bin/sh"),
            &["-c".to_string(), script.to_string()],
            timeout,
            &mut |line| echoed.push(line.to_string()),
        )
        .unwrap();
        (run, echoed)
    }

    #[test]
    fn every_line_is_echoed_and_kept_and_a_failed_exit_is_reported() {
        let (run, echoed) = sh(
            "echo one; echo '@@lab data x'; exit 3",
            Duration::from_secs(60),
        );
        assert_eq!(run.lines, ["one", "@@lab data x"]);
        assert_eq!(echoed, run.lines);
        let failure = run.failure.expect("exit 3 is a failure");
        assert!(failure.contains('3'), "{failure}");
        let (run, _) = sh("echo fine", Duration::from_secs(60));
        assert_eq!((run.lines.len(), run.failure), (1, None));
    }

    #[test]
    fn the_check_names_what_is_missing_and_leaves_no_namespace_behind() {
        // On these machines (no sch_cake) it fails; on one that can run the lab it passes. Either way the
        // throwaway namespace is gone.
        if let Err(why) = check() {
            assert!(why == "not root" || why.contains("` failed: "), "{why}");
        }
        let left = Command::new("ip").args(["netns", "list"]).output().unwrap();
        let ours = format!("wanctl-lab-check-{}", std::process::id());
        assert!(!String::from_utf8_lossy(&left.stdout).contains(&ours));
    }

    #[test]
    fn a_run_past_its_timeout_is_stopped_with_what_it_printed() {
        let (run, _) = sh("echo started; exec sleep 600", Duration::from_millis(300));
        assert_eq!(run.lines, ["started"]);
        assert!(
            run.failure
                .as_deref()
                .is_some_and(|f| f.contains("timed out")),
            "{:?}",
            run.failure
        );
    }
}
