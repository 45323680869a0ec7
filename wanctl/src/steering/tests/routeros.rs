//! The RouterOS adapter: maps the client's answers and errors, and verification catches a router that
//! accepted a change without applying it.

use crate::steering::{
    ActuatorError, SteeringActuator,
    actuator::{BoxError, MangleRuleClient, RouterOsActuator, RouterOsActuatorConfig},
    set_verified,
};

/// A router with one mangle rule; `ignore_writes` models a PATCH that returns success but changes nothing.
#[derive(Default)]
struct Router {
    enabled: bool,
    ignore_writes: bool,
    unreachable: bool,
    calls: Vec<(String, Option<bool>)>,
}

impl MangleRuleClient for Router {
    async fn mangle_enabled(&mut self, comment: &str) -> Result<bool, BoxError> {
        self.calls.push((comment.to_string(), None));
        if self.unreachable {
            return Err("connection refused".into());
        }
        Ok(self.enabled)
    }

    async fn set_mangle_enabled(&mut self, comment: &str, enabled: bool) -> Result<(), BoxError> {
        self.calls.push((comment.to_string(), Some(enabled)));
        if self.unreachable {
            return Err("connection refused".into());
        }
        if !self.ignore_writes {
            self.enabled = enabled;
        }
        Ok(())
    }
}

fn actuator(router: Router) -> RouterOsActuator<Router> {
    RouterOsActuator::new(
        router,
        &RouterOsActuatorConfig {
            mangle_comment: "wanctl steer".to_string(),
        },
    )
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn steering_enables_the_rule_named_by_comment_and_verifies() {
    let mut a = actuator(Router::default());
    block_on(async {
        assert!(!a.read().await.unwrap());
        set_verified(&mut a, true).await.unwrap();
        assert!(a.read().await.unwrap());
        set_verified(&mut a, false).await.unwrap();
        assert!(!a.read().await.unwrap());
    });
    assert!(a.describe().contains("wanctl steer"));
}

#[test]
fn a_write_the_router_did_not_apply_fails_verification() {
    let mut a = actuator(Router {
        ignore_writes: true,
        ..Router::default()
    });
    let err = block_on(set_verified(&mut a, true)).unwrap_err();
    assert!(
        matches!(
            err,
            ActuatorError::Verify {
                expected: true,
                found: false,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn client_errors_name_the_rule_and_the_operation() {
    let mut a = actuator(Router {
        unreachable: true,
        ..Router::default()
    });
    let err = block_on(set_verified(&mut a, true))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("wanctl steer") && err.contains("set") && err.contains("refused"),
        "{err}"
    );
}
