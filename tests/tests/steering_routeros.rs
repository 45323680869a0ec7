//! Steering through a MikroTik: the RouterOS actuator, on the REST client, against the emulator. The rule is
//! found by its comment, enabled and disabled with read-back verification, refused when absent or ambiguous,
//! and found again after the router renumbers its ids.

use std::sync::Arc;

use wanctl::{
    shaper::routeros::{Password, RouterOsClient},
    steering::{
        SteeringActuator,
        actuator::{RouterOsActuator, RouterOsActuatorConfig},
        set_verified,
    },
};
use wanctl_tests::routeros_emulator::{Emulator, MANGLE, PASSWORD};

const COMMENT: &str = "wanctl steer";

async fn actuator(
    emu: &Emulator,
    dir: &tempfile::TempDir,
) -> RouterOsActuator<Arc<RouterOsClient>> {
    let ca = emu.write_ca(dir.path());
    let client =
        Arc::new(RouterOsClient::new(&emu.config(Some(&ca)), Password::new(PASSWORD)).unwrap());
    RouterOsActuator::new(
        client,
        &RouterOsActuatorConfig {
            mangle_comment: COMMENT.into(),
        },
    )
}

/// The emulator's `disabled` field of the rule with `comment` (the first, if several).
fn disabled(emu: &Emulator, comment: &str) -> String {
    emu.find(MANGLE, "comment", comment).unwrap()["disabled"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn mangle_rule_is_enabled_and_disabled_with_verification() {
    let emu = Emulator::start_https().await;
    let dir = tempfile::tempdir().unwrap();
    emu.add_mangle(COMMENT, true);
    emu.add_mangle("unrelated", true);
    let mut actuator = actuator(&emu, &dir).await;

    assert!(
        !actuator.read().await.unwrap(),
        "a disabled rule means not steering"
    );
    set_verified(&mut actuator, true).await.unwrap();
    assert_eq!(disabled(&emu, COMMENT), "false");
    assert!(actuator.read().await.unwrap());

    emu.renumber();
    set_verified(&mut actuator, false).await.unwrap();
    assert_eq!(
        disabled(&emu, COMMENT),
        "true",
        "the rule is found again by comment after renumbering"
    );
    assert_eq!(
        disabled(&emu, "unrelated"),
        "true",
        "other rules are never touched"
    );
}

#[tokio::test]
async fn an_absent_or_ambiguous_rule_is_an_error_naming_the_comment() {
    let emu = Emulator::start_https().await;
    let dir = tempfile::tempdir().unwrap();
    let mut actuator = actuator(&emu, &dir).await;
    let absent = actuator.read().await.unwrap_err().to_string();
    assert!(absent.contains(COMMENT), "{absent}");

    emu.add_mangle(COMMENT, true);
    emu.add_mangle(COMMENT, true);
    let ambiguous = set_verified(&mut actuator, true)
        .await
        .unwrap_err()
        .to_string();
    assert!(ambiguous.contains("2 mangle rules"), "{ambiguous}");
    assert_eq!(
        disabled(&emu, COMMENT),
        "true",
        "nothing was written to an ambiguous rule"
    );
}
