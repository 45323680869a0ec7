//! The RouterOS REST client against the emulator: queue limits, statistics, mangle rules, id
//! renumbering, and the errors a user must be able to act on (password, CA, secret file).

use std::os::unix::fs::PermissionsExt;

use wanctl::{
    config::Bandwidth,
    shaper::routeros::{
        CounterTracker, MaxLimit, Password, QueueRef, RouterOsClient, RouterOsConfig,
        RouterOsError, load_password_from,
    },
    signal::Direction,
};
use wanctl_tests::routeros_emulator::{Emulator, MANGLE, PASSWORD, QUEUE_SIMPLE, QUEUE_TREE};

async fn https_router() -> (Emulator, tempfile::TempDir, RouterOsConfig) {
    let emu = Emulator::start_https().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = emu.write_ca(dir.path());
    let config = emu.config(Some(&ca));
    (emu, dir, config)
}

fn tree(name: &str) -> QueueRef {
    QueueRef::Tree(name.into())
}

#[tokio::test]
async fn sets_max_limit_reads_it_back_and_caches_the_id() {
    let (emu, _dir, config) = https_router().await;
    emu.add_queue_tree("wan-up", "20000000");
    emu.add_queue_tree("wan-down", "100000000");
    let client = RouterOsClient::new(&config, Password::new(PASSWORD)).unwrap();

    let limit = MaxLimit::Single(Bandwidth::from_mbit(87));
    let entry = client
        .set_max_limit(&tree("wan-down"), limit)
        .await
        .unwrap();
    assert_eq!(entry.max_limit, limit);
    assert_eq!(
        emu.field(QUEUE_TREE, "wan-down", "max-limit").unwrap(),
        "87000000"
    );
    assert_eq!(
        emu.field(QUEUE_TREE, "wan-up", "max-limit").unwrap(),
        "20000000"
    );
    let read = client.queue(&tree("wan-down")).await.unwrap();
    assert_eq!(read.max_limit, limit);

    // With the id cached, a change is one PATCH and nothing else.
    emu.clear_log();
    client
        .set_max_limit(
            &tree("wan-down"),
            MaxLimit::Single(Bandwidth::from_mbit(80)),
        )
        .await
        .unwrap();
    let log = emu.requests();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].method, "PATCH");
    assert_eq!(log[0].path, format!("queue/tree/{}", read.id));
    assert_eq!(
        log[0].body, r#"{"max-limit":"80000000"}"#,
        "values go as strings"
    );
}

#[tokio::test]
async fn simple_queue_writes_keep_the_other_half() {
    let (emu, _dir, config) = https_router().await;
    emu.add_simple_queue("lan", "20000000/100000000");
    let client = RouterOsClient::new(&config, Password::new(PASSWORD)).unwrap();
    let q = QueueRef::Simple("lan".into());
    let current = client.queue(&q).await.unwrap().max_limit;
    let wanted = current.with(Direction::Download, Bandwidth::from_mbit(90));
    client.set_max_limit(&q, wanted).await.unwrap();
    assert_eq!(
        emu.field(QUEUE_SIMPLE, "lan", "max-limit").unwrap(),
        "20000000/90000000"
    );
}

#[tokio::test]
async fn stats_are_counter_deltas_that_survive_a_reboot() {
    let (emu, _dir, config) = https_router().await;
    emu.add_queue_tree("wan-down", "100000000");
    emu.add_traffic(QUEUE_TREE, "wan-down", None, 5_000, 50, 0);
    let client = RouterOsClient::new(&config, Password::new(PASSWORD)).unwrap();
    let mut tracker = CounterTracker::default();
    let mut feed = |e: &wanctl::shaper::routeros::QueueEntry| {
        let s = tracker.update(e.counters.unwrap().get(Direction::Download));
        (s.sent_bytes, s.sent_packets, s.dropped_packets)
    };

    let first = client.queue(&tree("wan-down")).await.unwrap();
    feed(&first);
    emu.add_traffic(QUEUE_TREE, "wan-down", None, 3_000, 20, 2);
    let second = client.queue(&tree("wan-down")).await.unwrap();
    let raw = second.counters.unwrap().get(Direction::Download);
    assert_eq!((raw.bytes, raw.packets, raw.dropped), (8_000, 70, 2));
    let (bytes, packets, dropped) = feed(&second);
    assert_eq!((bytes, packets, dropped), (3_000, 20, 2));

    // Reboot: counters restart at zero and ids change; the client re-resolves by name.
    emu.reboot();
    emu.add_traffic(QUEUE_TREE, "wan-down", None, 1_000, 10, 0);
    let third = client.queue(&tree("wan-down")).await.unwrap();
    assert_ne!(third.id, first.id);
    let (bytes, packets, _) = feed(&third);
    assert_eq!((bytes, packets), (4_000, 30));
}

#[tokio::test]
async fn renumbered_ids_are_re_resolved_by_name() {
    let (emu, _dir, config) = https_router().await;
    emu.add_queue_tree("wan-down", "100000000");
    let client = RouterOsClient::new(&config, Password::new(PASSWORD)).unwrap();
    let old = client.queue(&tree("wan-down")).await.unwrap().id;
    emu.renumber();
    emu.clear_log();
    let entry = client
        .set_max_limit(
            &tree("wan-down"),
            MaxLimit::Single(Bandwidth::from_mbit(70)),
        )
        .await
        .unwrap();
    assert_ne!(entry.id, old);
    assert_eq!(
        emu.field(QUEUE_TREE, "wan-down", "max-limit").unwrap(),
        "70000000"
    );
    let log: Vec<(String, u16)> = emu
        .requests()
        .into_iter()
        .map(|l| (l.method, l.status))
        .collect();
    assert_eq!(
        log,
        [
            ("PATCH".into(), 404),
            ("GET".into(), 200),
            ("PATCH".into(), 200)
        ]
    );
}

#[tokio::test]
async fn mangle_rule_is_toggled_by_comment_and_verified() {
    let (emu, _dir, config) = https_router().await;
    emu.add_mangle("steer-wan2", true);
    emu.add_mangle("other-rule", true);
    let client = RouterOsClient::new(&config, Password::new(PASSWORD)).unwrap();

    let rules = client.set_mangle_enabled("steer-wan2", true).await.unwrap();
    assert_eq!(rules.len(), 1);
    assert!(!rules[0].disabled);
    assert_eq!(
        emu.find(MANGLE, "comment", "steer-wan2").unwrap()["disabled"],
        "false"
    );
    assert_eq!(
        emu.find(MANGLE, "comment", "other-rule").unwrap()["disabled"],
        "true"
    );
    // The last request is the read-back.
    let last = emu.requests().pop().unwrap();
    assert_eq!(
        (last.method.as_str(), last.query.as_str()),
        ("GET", "comment=steer-wan2")
    );

    client
        .set_mangle_enabled("steer-wan2", false)
        .await
        .unwrap();
    assert_eq!(
        emu.find(MANGLE, "comment", "steer-wan2").unwrap()["disabled"],
        "true"
    );

    let missing = client
        .set_mangle_enabled("no-such-rule", true)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, RouterOsError::NotFound { .. }),
        "{missing}"
    );
    assert!(missing.to_string().contains("no-such-rule"), "{missing}");
}

#[tokio::test]
async fn router_error_bodies_become_typed_errors() {
    let (emu, _dir, config) = https_router().await;
    emu.add_queue_tree("wan-down", "100000000");
    let client = RouterOsClient::new(&config, Password::new(PASSWORD)).unwrap();
    client.queue(&tree("wan-down")).await.unwrap();
    emu.fail_next(&[400]);
    let err = client
        .set_max_limit(
            &tree("wan-down"),
            MaxLimit::Single(Bandwidth::from_mbit(50)),
        )
        .await
        .unwrap_err();
    match &err {
        RouterOsError::Http {
            status,
            error,
            message,
            ..
        } => {
            assert_eq!(
                (*status, *error, message.as_str()),
                (400, Some(400), "Bad Request")
            );
        }
        other => panic!("expected Http, got {other:?}"),
    }
    let missing = client.queue(&tree("no-such-queue")).await.unwrap_err();
    assert!(
        matches!(missing, RouterOsError::NotFound { .. }),
        "{missing}"
    );
    assert!(missing.to_string().contains("no-such-queue"));
}

#[tokio::test]
async fn wrong_password_is_one_auth_error() {
    let (emu, _dir, config) = https_router().await;
    emu.add_queue_tree("wan-down", "100000000");
    let client = RouterOsClient::new(&config, Password::new("wrong")).unwrap();
    let err = client.queue(&tree("wan-down")).await.unwrap_err();
    assert!(matches!(err, RouterOsError::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("authentication failed"), "{err}");
    assert!(
        !err.to_string().contains("wrong"),
        "the password must not leak: {err}"
    );
    assert_eq!(emu.requests().len(), 1);
    assert_eq!(emu.requests()[0].status, 401);
}

#[tokio::test]
async fn wrong_ca_is_a_tls_error_naming_the_host() {
    let emu = Emulator::start_https().await;
    emu.add_queue_tree("wan-down", "100000000");
    let other = Emulator::start_https().await;
    let dir = tempfile::tempdir().unwrap();
    let wrong_ca = other.write_ca(dir.path());
    let config = emu.config(Some(&wrong_ca));
    let client = RouterOsClient::new(&config, Password::new(PASSWORD)).unwrap();
    let err = client.queue(&tree("wan-down")).await.unwrap_err();
    let RouterOsError::Tls { host, .. } = &err else {
        panic!("expected a TLS error, got {err:?}");
    };
    assert_eq!(host, "127.0.0.1");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
    assert!(
        emu.requests().is_empty(),
        "nothing was sent over the unverified connection"
    );
}

#[tokio::test]
async fn insecure_and_plain_http_work_only_when_asked_for() {
    let emu = Emulator::start_https().await;
    emu.add_queue_tree("wan-down", "100000000");
    let mut config = emu.config(None);
    config.insecure_skip_verify = true;
    let client = RouterOsClient::new(&config, Password::new(PASSWORD)).unwrap();
    client.queue(&tree("wan-down")).await.unwrap();

    let plain = Emulator::start_http().await;
    plain.add_queue_tree("wan-down", "100000000");
    let mut config = plain.config(None);
    let client = RouterOsClient::new(&config, Password::new(PASSWORD)).unwrap();
    client.queue(&tree("wan-down")).await.unwrap();
    config.allow_plain_http = false;
    let err = RouterOsClient::new(&config, Password::new(PASSWORD)).unwrap_err();
    assert!(err.to_string().contains("`scheme`"), "{err}");
}

#[test]
fn world_readable_password_file_is_refused_naming_file_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("router-password");
    std::fs::write(&path, "pw\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut config: RouterOsConfig = serde_json::from_value(serde_json::json!({
        "host": "192.0.2.1", "user": "wanctl", "password_file": path,
        "queues": { "download": { "tree": "wan-down" } },
    }))
    .unwrap();
    config.validate().unwrap();
    let err = load_password_from(&config, None).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("0644"), "{err}");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let pw = load_password_from(&config, None).unwrap();
    assert_eq!(pw.expose(), "pw");
    assert!(!format!("{config:?}{pw:?}").contains("\"pw\""));

    // A systemd credential is read from $CREDENTIALS_DIRECTORY/<name>.
    std::fs::write(dir.path().join("router"), "cred-pw").unwrap();
    config.password_file = None;
    config.password_credential = Some("router".into());
    assert_eq!(
        load_password_from(&config, Some(dir.path()))
            .unwrap()
            .expose(),
        "cred-pw"
    );
    let err = load_password_from(&config, None).unwrap_err().to_string();
    assert!(err.contains("CREDENTIALS_DIRECTORY"), "{err}");
}

#[test]
fn config_errors_name_the_field() {
    let base = serde_json::json!({
        "host": "192.0.2.1", "user": "wanctl", "password_credential": "router",
        "queues": { "download": { "tree": "wan-down" } },
    });
    let config: RouterOsConfig = serde_json::from_value(base.clone()).unwrap();
    config.validate().unwrap();
    assert_eq!(config.base_url(), "https://192.0.2.1:443/rest");
    assert_eq!(config.request_timeout.get().as_secs(), 2);
    assert_eq!(config.rate_limit.max_writes, 5);

    let cases = [
        (serde_json::json!({"scheme": "http"}), "scheme"),
        (
            serde_json::json!({"rate_limit": {"max_writes": 0}}),
            "rate_limit.max_writes",
        ),
        (
            serde_json::json!({"deadband_percent": 80.0}),
            "deadband_percent",
        ),
        (
            serde_json::json!({"password_file": "/x"}),
            "password_credential",
        ),
        (serde_json::json!({"queues": {}}), "queues"),
        (
            serde_json::json!({"ca_file": "/ca.pem", "insecure_skip_verify": true}),
            "insecure_skip_verify",
        ),
    ];
    for (patch, field) in cases {
        let mut value = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            value[k] = v.clone();
        }
        let config: RouterOsConfig = serde_json::from_value(value).unwrap();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains(&format!("`{field}`")), "{field}: {err}");
    }
    let mut unknown = base;
    unknown["pasword_file"] = "/x".into();
    let err = serde_json::from_value::<RouterOsConfig>(unknown)
        .unwrap_err()
        .to_string();
    assert!(err.contains("pasword_file"), "{err}");
}

#[tokio::test]
async fn a_router_that_never_answers_is_a_timeout_naming_the_host() {
    let (emu, _dir, mut config) = https_router().await;
    emu.add_queue_tree("wan-down", "100000000");
    config.request_timeout = wanctl::config::DurationSpec::from_millis(300);
    let client = RouterOsClient::new(&config, Password::new(PASSWORD)).unwrap();
    emu.set_outage(Some(wanctl_tests::routeros_emulator::Outage::BlackHole));
    let err = client.queue(&tree("wan-down")).await.unwrap_err();
    assert!(matches!(err, RouterOsError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
    emu.set_outage(None);
    client.queue(&tree("wan-down")).await.unwrap();
}

/// The emulator answers as RouterOS documents: string values, `*N` ids, error bodies with a numeric
/// `error`, `message` and (for 400) `detail`.
#[tokio::test]
async fn emulator_speaks_the_documented_rest_dialect() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emu = Emulator::start_http().await;
    let id = emu.add_queue_tree("wan-down", "100000000");
    assert!(id.starts_with('*'));
    let http = reqwest::Client::new();
    let base = format!("http://{}/rest", emu.addr());
    let get = |path: &str, auth: bool| {
        let mut req = http.get(format!("{base}/{path}"));
        if auth {
            req = req.basic_auth(wanctl_tests::routeros_emulator::USER, Some(PASSWORD));
        }
        req.send()
    };
    let list: serde_json::Value = get("queue/tree?name=wan-down", true)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0][".id"], id.as_str());
    assert_eq!(list[0]["max-limit"], "100000000");
    assert!(list[0]["bytes"].is_string());

    let r = get("queue/tree", false).await.unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": 401, "message": "Unauthorized"})
    );

    let r = get("queue/tree/*FFFF", true).await.unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": 404, "message": "Not Found"})
    );

    let r = get("queue/nonsense", true).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["detail"], "no such command or directory (nonsense)");

    let r = http
        .patch(format!("{base}/queue/tree/{id}"))
        .basic_auth(wanctl_tests::routeros_emulator::USER, Some(PASSWORD))
        .body(r#"{"max-limit":"95M"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let updated: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        updated["max-limit"], "95000000",
        "PATCH returns the updated object"
    );
}
