//! Local CAKE's lifecycle against the real sch_cake (adoption, errors, replacement, CLI): run inside the VM by `cargo xtask vm test` (Debian's 6.12 kernel;
//! the host kernel has no sch_cake). `tc -s -j` is the independent reference throughout.

use wanctl::{
    config::Bandwidth,
    shaper::{
        Shaper,
        cake::{CakeConfig, CakeError, CakeShaper, ExitPolicy, OnReplaced, SetupMode, remove},
    },
    signal::Direction,
};
use wanctl_tests::cake::{config, direction, in_ns, options_without_rate, pair};
use wanctl_tests::{
    netns::Netns,
    tc::{qdiscs, root_qdisc, tc},
};

#[test]
fn adopts_a_cake_and_ifb_configured_by_tc_and_changes_only_the_rate() {
    let p = pair("wa4");
    // autorate-ingress lets CAKE re-estimate the rate from whatever leaves wa4; IPv6's
    // router solicitations and MLD reports arrive seconds after link-up and would overwrite
    // the rate wanctl sets, so this link stays silent.
    p.wan
        .exec_ok(&["sysctl", "-q", "-w", "net.ipv6.conf.wa4.disable_ipv6=1"]);
    tc(
        &p.wan,
        &[
            "qdisc",
            "add",
            "dev",
            "wa4",
            "root",
            "cake",
            "bandwidth",
            "20mbit",
            "autorate-ingress",
            "diffserv8",
            "flows",
            "nat",
            "mpu",
            "64",
        ],
    );
    p.wan.ip(&["link", "add", "ifb4wa4", "type", "ifb"]);
    p.wan.ip(&["link", "set", "ifb4wa4", "up"]);
    tc(
        &p.wan,
        &["qdisc", "add", "dev", "wa4", "handle", "ffff:", "ingress"],
    );
    tc(
        &p.wan,
        &[
            "filter", "add", "dev", "wa4", "parent", "ffff:", "protocol", "all", "prio", "10",
            "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev",
            "ifb4wa4",
        ],
    );
    tc(
        &p.wan,
        &[
            "qdisc",
            "add",
            "dev",
            "ifb4wa4",
            "root",
            "cake",
            "bandwidth",
            "50mbit",
            "besteffort",
            "ingress",
            "dual-dsthost",
        ],
    );
    let before_up = options_without_rate(&root_qdisc(&p.wan, "wa4"));
    let before_down = options_without_rate(&root_qdisc(&p.wan, "ifb4wa4"));
    let mut cfg = config("wa4", Some(direction(1)), Some(direction(1)));
    cfg.mode = SetupMode::Adopt;
    in_ns(&p.wan, async || {
        let mut shaper = CakeShaper::setup(cfg.clone()).await.expect("adopt");
        assert_eq!(shaper.device(Direction::Download), Some("ifb4wa4"));
        shaper
            .apply(Direction::Upload, Bandwidth::from_mbit(30))
            .await
            .expect("upload rate");
        shaper
            .apply(Direction::Download, Bandwidth::from_mbit(40))
            .await
            .expect("download rate");
        let removed = remove(&cfg).await.expect("remove");
        assert!(
            removed.is_empty(),
            "adopted objects are not wanctl's to remove: {removed:?}"
        );
    });
    let up = root_qdisc(&p.wan, "wa4");
    assert_eq!(up["options"]["bandwidth"], 30_000_000 / 8);
    assert_eq!(
        up["options"]["autorate"], "autorate-ingress",
        "unlike `tc change bandwidth`, autorate survives"
    );
    assert_eq!(options_without_rate(&up), before_up);
    let down = root_qdisc(&p.wan, "ifb4wa4");
    assert_eq!(down["options"]["bandwidth"], 40_000_000 / 8);
    assert_eq!(options_without_rate(&down), before_down);
    assert!(
        qdiscs(&p.wan, "wa4").iter().any(|q| q["kind"] == "ingress"),
        "the operator's ingress qdisc stays"
    );
}

fn setup_error(ns: &Netns, cfg: CakeConfig) -> CakeError {
    in_ns(ns, async || match CakeShaper::setup(cfg).await {
        Ok(_) => panic!("setup unexpectedly succeeded"),
        Err(e) => e,
    })
}

#[test]
fn each_error_case_names_the_device_and_what_to_do() {
    let p = pair("wa5");
    let e = setup_error(&p.wan, config("nope0", Some(direction(10)), None));
    assert!(matches!(e, CakeError::NoSuchDevice { .. }), "{e:?}");
    assert!(e.to_string().contains("no such device `nope0`"), "{e}");

    tc(
        &p.wan,
        &["qdisc", "add", "dev", "wa5", "root", "handle", "1:", "htb"],
    );
    let mut adopt = config("wa5", Some(direction(10)), None);
    adopt.mode = SetupMode::Adopt;
    let e = setup_error(&p.wan, adopt);
    assert!(
        e.to_string()
            .contains("root qdisc of wa5 is `htb`, not cake"),
        "{e}"
    );
    let e = setup_error(&p.wan, config("wa5", Some(direction(10)), None));
    assert!(matches!(e, CakeError::HandleTaken { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("handle 1: on wa5 is taken by a `htb` qdisc"),
        "{e}"
    );
    assert_eq!(
        root_qdisc(&p.wan, "wa5")["kind"],
        "htb",
        "the operator's qdisc was not touched"
    );
    tc(&p.wan, &["qdisc", "del", "dev", "wa5", "root"]);

    // Without the module (and no modprobe in the VM) the kernel cannot create a cake qdisc.
    let rmmod = p.wan.exec(&["rmmod", "sch_cake"]);
    assert!(
        rmmod.status.success(),
        "rmmod sch_cake: {}",
        String::from_utf8_lossy(&rmmod.stderr)
    );
    let e = setup_error(&p.wan, config("wa5", Some(direction(10)), None));
    let insmod = p.wan.exec(&["insmod", "/lib/modules/sch_cake.ko"]);
    assert!(insmod.status.success(), "insmod sch_cake back");
    assert!(matches!(e, CakeError::ModuleMissing { .. }), "{e:?}");
    assert!(e.to_string().contains("modprobe sch_cake"), "{e}");
}

#[test]
fn a_cake_replaced_behind_our_back_is_reported_or_reinstalled() {
    let p = pair("wa6");
    let mut cfg = config("wa6", Some(direction(10)), None);
    cfg.on_replaced = OnReplaced::Report;
    in_ns(&p.wan, async || {
        let mut shaper = CakeShaper::setup(cfg.clone()).await.expect("install");
        tc(
            &p.wan,
            &[
                "qdisc", "replace", "dev", "wa6", "root", "handle", "2:", "htb",
            ],
        );
        let e = shaper
            .apply(Direction::Upload, Bandwidth::from_mbit(11))
            .await
            .expect_err("replaced");
        assert!(
            e.to_string()
                .contains("was replaced or removed (root is now `htb 2:`)"),
            "{e}"
        );
        assert_eq!(
            root_qdisc(&p.wan, "wa6")["kind"],
            "htb",
            "report leaves it alone"
        );
        assert!(shaper.health().last_error.is_some());

        cfg.on_replaced = OnReplaced::Reinstall;
        cfg.upload.as_mut().expect("upload").safe_rate = Some(Bandwidth::from_mbit(3));
        cfg.on_exit = ExitPolicy::SafeRate;
        let mut shaper = CakeShaper::setup(cfg.clone())
            .await
            .expect("install over htb 2:");
        tc(&p.wan, &["qdisc", "del", "dev", "wa6", "root"]);
        shaper
            .apply(Direction::Upload, Bandwidth::from_mbit(12))
            .await
            .expect("reinstalled");
        let q = root_qdisc(&p.wan, "wa6");
        assert_eq!(
            (q["kind"].as_str(), q["handle"].as_str()),
            (Some("cake"), Some("1:"))
        );
        assert_eq!(q["options"]["bandwidth"], 12_000_000 / 8);
        assert_eq!(
            q["options"]["flowmode"], "dual-srchost",
            "reinstalled with the configured options"
        );
        shaper.shutdown().await.expect("exit policy");
        assert_eq!(
            root_qdisc(&p.wan, "wa6")["options"]["bandwidth"],
            3_000_000 / 8,
            "safe rate on exit"
        );
        remove(&cfg).await.expect("remove");
    });
    assert_eq!(root_qdisc(&p.wan, "wa6")["kind"], "noqueue");
}

#[test]
fn check_cake_reports_then_fixes_and_shaper_remove_cleans_up() {
    use std::process::ExitCode;
    use wanctl::cli::{check_cake, shaper};
    let p = pair("wa7");
    let path = std::env::temp_dir().join("wanctl-check-cake.yaml");
    std::fs::write(
        &path,
        "wans:\n  - name: a\n    cake:\n      interface: wa7\n      upload: {initial_rate: 10Mbit, diffserv: besteffort}\n      download: {initial_rate: 20Mbit}\n",
    )
    .expect("write config");
    let code = |c: ExitCode| format!("{c:?}");
    let check = |fix: bool| {
        let args = check_cake::Args {
            config: path.clone(),
            fix,
        };
        p.wan
            .enter(|| check_cake::run(&args).expect("check-cake runs"))
    };
    assert_eq!(
        code(check(false)),
        code(ExitCode::FAILURE),
        "nothing installed yet"
    );
    assert_eq!(code(check(true)), code(ExitCode::SUCCESS), "--fix installs");
    assert_eq!(code(check(false)), code(ExitCode::SUCCESS));
    assert_eq!(
        root_qdisc(&p.wan, "wa7")["options"]["diffserv"],
        "besteffort"
    );
    tc(
        &p.wan,
        &[
            "qdisc",
            "change",
            "dev",
            "wa7",
            "root",
            "handle",
            "1:",
            "cake",
            "diffserv8",
        ],
    );
    assert_eq!(
        code(check(false)),
        code(ExitCode::FAILURE),
        "a changed option is reported"
    );
    assert_eq!(code(check(true)), code(ExitCode::SUCCESS), "and fixed");
    assert_eq!(
        root_qdisc(&p.wan, "wa7")["options"]["diffserv"],
        "besteffort"
    );
    let args = shaper::Args {
        command: shaper::ShaperCommand::Remove {
            config: path.clone(),
        },
    };
    assert_eq!(
        code(p.wan.enter(|| shaper::run(&args).expect("remove"))),
        code(ExitCode::SUCCESS)
    );
    assert_eq!(root_qdisc(&p.wan, "wa7")["kind"], "noqueue");
    assert!(
        !p.wan
            .exec(&["ip", "link", "show", "ifb4wa7"])
            .status
            .success(),
        "the IFB wanctl created is gone"
    );
}
