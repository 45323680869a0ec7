//! A CA and a server certificate made for one test run (rcgen), as a RouterOS admin would make them with
//! `/certificate add ... ; sign`.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A test CA and the TLS server config of a certificate it signed.
pub struct TestPki {
    /// The CA certificate, PEM (what `ca_file` points to).
    pub ca_pem: String,
    /// Server side of the emulator.
    pub server: Arc<rustls::ServerConfig>,
}

/// A fresh CA plus a server certificate for `host` (an IP literal or a DNS name).
pub fn make_pki(host: &str) -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "wanctl test router CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().expect("CA key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");
    let issuer = Issuer::new(ca_params, ca_key);

    let mut params = CertificateParams::new(vec![host.to_string()]).expect("server params");
    params.distinguished_name.push(DnType::CommonName, host);
    let key = KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &issuer).expect("sign server cert");

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server TLS config");
    TestPki {
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
    }
}
