//! Mutual TLS: the client certificate must chain to the configured CA and carry the token's
//! organisation number (subjectAltName `urn:kaigo:office:<事業所番号>`).

use kaigo_gateway::{GatewayConfig, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::support::*;

struct Pki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let ca_pem = params.self_signed(&key).unwrap().pem();
        Self { ca_pem, issuer: Issuer::new(params, key) }
    }

    /// (certificate PEM, key PEM) for `dns` names and `uris`.
    fn issue(&self, dns: &[&str], uris: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(dns.iter().map(|d| (*d).to_owned()).collect::<Vec<_>>()).unwrap();
        for uri in uris {
            params.subject_alt_names.push(SanType::URI((*uri).try_into().unwrap()));
        }
        (params.signed_by(&key, &self.issuer).unwrap().pem(), key.serialize_pem())
    }
}

#[tokio::test]
async fn the_client_certificate_must_be_the_token_s_office() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("kaigo test CA");
    let (server_cert, server_key) = pki.issue(&["localhost"], &[]);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let tls = TlsConfig {
        cert_file: write("server.pem", &server_cert),
        key_file: write("server.key", &server_key),
        client_ca_file: write("ca.pem", &pki.ca_pem),
    };
    let door = Door::open(GatewayConfig { tls, ..GatewayConfig::default() }, &["subsidies"]).await;
    let (gw, ed) = (&door.gw, &door.key);

    let connect = |cert: Option<(String, String)>| {
        let mut tls =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca_pem)).domain_name("localhost");
        if let Some((cert, key)) = cert {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        let endpoint = Endpoint::from_shared(format!("https://{}", gw.addr)).unwrap().tls_config(tls).unwrap();
        async move { endpoint.connect().await }
    };
    let token = ed.sign(&office_claims("u")); // office 0300000106

    // The token's own office: accepted.
    let own = connect(Some(pki.issue(&[], &[&format!("urn:kaigo:office:{OFFICE}")]))).await.unwrap();
    let response = list_programmes(&own, Some(&token), &[]).await.unwrap();
    assert_eq!(response.metadata().get("x-caller-role").unwrap(), "care_office");

    // Another office's certificate with this token: refused.
    let other = connect(Some(pki.issue(&[], &["urn:kaigo:office:0300000007"]))).await.unwrap();
    let status = list_programmes(&other, Some(&token), &[]).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), "CLIENT_CERTIFICATE_MISMATCH");

    // A certificate without any kaigo organisation: refused for an office token.
    let anonymous = connect(Some(pki.issue(&[], &[]))).await.unwrap();
    assert_eq!(list_programmes(&anonymous, Some(&token), &[]).await.unwrap_err().code(), Code::Unauthenticated);

    // No certificate, or one from another CA: the TLS handshake itself fails.
    let refused = async |channel: Result<tonic::transport::Channel, tonic::transport::Error>| match channel {
        Err(_) => true,
        Ok(channel) => list_programmes(&channel, Some(&token), &[]).await.is_err(),
    };
    assert!(refused(connect(None).await).await, "a client without a certificate was served");
    let stranger = Pki::new("someone else's CA").issue(&[], &[&format!("urn:kaigo:office:{OFFICE}")]);
    assert!(refused(connect(Some(stranger)).await).await, "a certificate of another CA was served");
}
